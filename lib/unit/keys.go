package unit

import (
	"fmt"
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
				if _, ok := conditionKind(e.Key); ok && sec == "Unit" {
					f.MarkUsed(sec, e.Key)
				}
			}
		}
	}
	if u.Type == "socket" {
		f.MarkUsed("Socket", "ListenStream", "ListenDatagram")
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
