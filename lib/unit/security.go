package unit

// Privilege settings of a service (systemd.exec(5)): AmbientCapabilities=,
// CapabilityBoundingSet= and NoNewPrivileges=.

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/conf"
)

// CapSet is a set of capabilities: bit n is capability number n.
type CapSet uint64

// AllCaps is the full set: a CapabilityBoundingSet= that is unset (or
// "~" alone) leaves the bounding set as it is.
const AllCaps = ^CapSet(0)

// maxCapNumber is the highest capability number a setting may give as a
// number; the names known are those of capNames.
const maxCapNumber = 62

// capNames maps the capability names to their numbers.
var capNames = map[string]int{
	"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE,
	"CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH, "CAP_FOWNER": unix.CAP_FOWNER,
	"CAP_FSETID": unix.CAP_FSETID, "CAP_KILL": unix.CAP_KILL, "CAP_SETGID": unix.CAP_SETGID,
	"CAP_SETUID": unix.CAP_SETUID, "CAP_SETPCAP": unix.CAP_SETPCAP,
	"CAP_LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE, "CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
	"CAP_NET_BROADCAST": unix.CAP_NET_BROADCAST, "CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
	"CAP_NET_RAW": unix.CAP_NET_RAW, "CAP_IPC_LOCK": unix.CAP_IPC_LOCK, "CAP_IPC_OWNER": unix.CAP_IPC_OWNER,
	"CAP_SYS_MODULE": unix.CAP_SYS_MODULE, "CAP_SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"CAP_SYS_CHROOT": unix.CAP_SYS_CHROOT, "CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE,
	"CAP_SYS_PACCT": unix.CAP_SYS_PACCT, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN, "CAP_SYS_BOOT": unix.CAP_SYS_BOOT,
	"CAP_SYS_NICE": unix.CAP_SYS_NICE, "CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE,
	"CAP_SYS_TIME": unix.CAP_SYS_TIME, "CAP_SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG,
	"CAP_MKNOD": unix.CAP_MKNOD, "CAP_LEASE": unix.CAP_LEASE, "CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
	"CAP_AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "CAP_SETFCAP": unix.CAP_SETFCAP,
	"CAP_MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE, "CAP_MAC_ADMIN": unix.CAP_MAC_ADMIN,
	"CAP_SYSLOG": unix.CAP_SYSLOG, "CAP_WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"CAP_BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "CAP_AUDIT_READ": unix.CAP_AUDIT_READ,
	"CAP_PERFMON": unix.CAP_PERFMON, "CAP_BPF": unix.CAP_BPF,
	"CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// CapabilityNumber returns the number of a capability given by name
// (CAP_NET_ADMIN, any case) or as a decimal number.
func CapabilityNumber(name string) (int, error) {
	if n, ok := capNames[strings.ToUpper(name)]; ok {
		return n, nil
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n <= maxCapNumber {
		return n, nil
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// CapabilityName is the name of capability n, or its number for one
// without a known name.
func CapabilityName(n int) string {
	for name, v := range capNames {
		if v == n {
			return name
		}
	}
	return strconv.Itoa(n)
}

// Has reports whether capability n is in the set.
func (s CapSet) Has(n int) bool { return n >= 0 && n < 64 && s&(1<<uint(n)) != 0 }

// Numbers lists the capabilities in the set, lowest first.
func (s CapSet) Numbers() []int {
	var out []int
	for v := uint64(s); v != 0; v &= v - 1 {
		out = append(out, bits.TrailingZeros64(v))
	}
	return out
}

// parseSecurity fills the privilege settings of s.
func (u *Unit) parseSecurity(s *Service, report func(error)) {
	s.AmbientCapabilities = u.capSet("AmbientCapabilities", 0, report)
	s.CapabilityBoundingSet = u.capSet("CapabilityBoundingSet", AllCaps, report)
	s.NoNewPrivileges = u.boolean("Service", "NoNewPrivileges", false, report)
}

// capSet reads a capability set setting whose value when unset is initial.
// Each assignment lists capability names; a leading "~" inverts it (every
// capability but those listed). An assignment replaces the set while it
// still holds its initial value or when it lists nothing (so "" empties the
// set and "~" alone fills it); otherwise a plain one adds its capabilities
// and an inverted one removes its own. Unknown names are reported and
// skipped.
func (u *Unit) capSet(key string, initial CapSet, report func(error)) CapSet {
	set := initial
	// Every assignment counts, empty ones too (File.Entries drops those and
	// what came before, but an inverted line after "" must still see it).
	var entries []conf.Entry
	u.File.MarkUsed("Service", key) // read here by walking the entries (see reportUnused)
	for _, sec := range u.File.SectionsNamed("Service") {
		for _, e := range sec.Entries {
			if e.Key == key {
				entries = append(entries, e)
			}
		}
	}
	for _, e := range entries {
		v, ok := u.expand(e, report)
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		invert := strings.HasPrefix(v, "~")
		words, err := wordTexts(strings.TrimPrefix(v, "~"))
		if err != nil {
			report(e.Wrap(err))
			continue
		}
		var sum CapSet
		for _, w := range words {
			n, err := CapabilityNumber(w)
			if err != nil {
				report(e.Wrap(err))
				continue
			}
			sum |= 1 << uint(n)
		}
		switch {
		case sum == 0 || set == initial:
			if invert {
				sum = ^sum
			}
			set = sum
		case invert:
			set &^= sum
		default:
			set |= sum
		}
	}
	return set
}
