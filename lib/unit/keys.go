package unit

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stead-os/stead/lib/conf"
)

// reportUnused warns about what the unit's files say that nothing applied, so
// no setting is silently ignored:
//
//   - a section the unit type does not have ("Unknown section 'Foo', ignoring");
//   - a key upstream systemd does not know either ("Unknown key 'ExecStrat' in
//     section [Service], ignoring", as upstream words it);
//   - a key upstream knows that stead does not implement ("… is not supported
//     by stead, ignoring").
//
// Sections and keys starting with "X-" are for other programs and are skipped
// silently, as upstream does. The warnings carry file:line.
func (u *Unit) reportUnused(report func(error)) {
	f := u.File
	if f == nil {
		return
	}
	own := typeSection[u.Type]
	// Keys the loader consumes by walking entries rather than asking by name.
	for _, sec := range []string{"Unit", own} {
		for _, s := range f.SectionsNamed(sec) {
			for _, e := range s.Entries {
				if _, ok := conditionKind(e.Key); ok && sec == "Unit" && upstreamKeys["Unit"][e.Key] {
					f.MarkUsed(sec, e.Key)
				}
			}
		}
	}
	for _, s := range f.Sections() {
		if strings.HasPrefix(s.Name, "X-") {
			continue
		}
		if s.Name != "Unit" && s.Name != "Install" && s.Name != own {
			report(&conf.Error{File: s.File, Line: s.Line, Msg: fmt.Sprintf("Unknown section '%s' in a %s unit, ignoring", s.Name, u.Type)})
			continue
		}
		for _, e := range s.Entries {
			if strings.HasPrefix(e.Key, "X-") || f.Used(s.Name, e.Key) {
				continue
			}
			if !upstreamKeys[s.Name][e.Key] {
				report(&conf.Error{File: e.File, Line: e.Line, Msg: fmt.Sprintf("Unknown key '%s' in section [%s], ignoring", e.Key, s.Name)})
				continue
			}
			report(&conf.Error{File: e.File, Line: e.Line, Msg: fmt.Sprintf("%s= in [%s] is not supported by stead, ignoring", e.Key, s.Name)})
			f.MarkUsed(s.Name, e.Key) // once per key, not once per assignment
		}
	}
}

// rawValue is the last value of key in section without counting it as
// applied: for loading decisions that depend on a setting another part of
// stead implements (or reports as unsupported).
func (u *Unit) rawValue(section, key string) string {
	v := ""
	for _, s := range u.File.SectionsNamed(section) {
		for _, e := range s.Entries {
			if e.Key == key {
				v = e.Value
			}
		}
	}
	return v
}

// netlinkFamilies are the protocol names ListenNetlink= takes (upstream's
// netlink family table) with their numbers.
var netlinkFamilies = map[string]int{
	"route": 0, "firewall": 3, "inet-diag": 4, "nflog": 5, "xfrm": 6, "selinux": 7, "iscsi": 8,
	"audit": 9, "fib-lookup": 10, "connector": 11, "netfilter": 12, "ip6-fw": 13, "dnrtmsg": 14,
	"kobject-uevent": 15, "generic": 16, "scsitransport": 18, "ecryptfs": 19, "rdma": 20, "crypto": 21,
	"smc": 22,
}

// ParseNetlinkListen reads a ListenNetlink= value: a family name and an
// optional multicast group number ("route 1361", "kobject-uevent 1").
func ParseNetlinkListen(v string) (family, group int, err error) {
	f := strings.Fields(v)
	if len(f) == 0 || len(f) > 2 {
		return 0, 0, fmt.Errorf("invalid netlink address %q", v)
	}
	family, ok := netlinkFamilies[f[0]]
	if !ok {
		return 0, 0, fmt.Errorf("unknown netlink family %q", f[0])
	}
	if len(f) == 2 {
		n, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("invalid netlink group %q", f[1])
		}
		group = int(n)
	}
	return family, group, nil
}

// rawWords is the words of every assignment of key in section after the last
// empty one, specifiers expanded where they resolve, without counting the key
// as applied (see rawValue).
func (u *Unit) rawWords(section, key string) []string {
	var out []string
	for _, s := range u.File.SectionsNamed(section) {
		for _, e := range s.Entries {
			if e.Key != key {
				continue
			}
			if e.Value == "" {
				out = nil
				continue
			}
			ws, _ := wordsUntilError(e.Value)
			for _, w := range ws {
				if v, err := u.Spec.Expand(w); err == nil {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// UpstreamKeys returns every key upstream systemd 262 reads in unit files
// (upstream_keys.go), per section, each list sorted: for tools that report
// on all of them (lib/unit/internal/settingstable writes the table of
// docs/systemd.unit.md from it).
func UpstreamKeys() map[string][]string {
	out := make(map[string][]string, len(upstreamKeys))
	for sec, keys := range upstreamKeys {
		l := make([]string, 0, len(keys))
		for k := range keys {
			l = append(l, k)
		}
		sort.Strings(l)
		out[sec] = l
	}
	return out
}
