package unit

import (
	"fmt"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/conf"
)

// ManagedOOM is a unit's systemd-oomd settings (systemd.resource-control(5)):
// ManagedOOMSwap=, ManagedOOMMemoryPressure=, ManagedOOMMemoryPressureLimit=,
// ManagedOOMMemoryPressureDurationSec=, ManagedOOMPreference= and OOMRules=.
// The service manager passes them to oomd over io.systemd.ManagedOOM.
type ManagedOOM struct {
	Swap           string // auto (default) or kill
	MemoryPressure string // auto (default) or kill
	// MemoryPressureLimit in ‱ (0: oomd's default).
	MemoryPressureLimit int
	// MemoryPressureDuration; 0 means oomd's default.
	MemoryPressureDuration time.Duration
	Preference             string   // none (default), avoid or omit
	Rules                  []string // names of oomd rulesets (*.oomrule), OOMRules=
}

// ManagedOOM modes.
const (
	OOMAuto = "auto"
	OOMKill = "kill"
)

// oomSections are the unit types that have a cgroup and so take
// resource-control settings, with the section those live in.
var oomSections = map[string]string{"service": "Service", "socket": "Socket", "slice": "Slice",
	"scope": "Scope", "mount": "Mount", "swap": "Swap"}

// ManagedOOM reads the unit's OOM settings; bad values are reported with
// file:line through report and left at their defaults. Units without a
// cgroup (targets, …) have only defaults.
func (u *Unit) ManagedOOM(report func(error)) ManagedOOM {
	if report == nil {
		report = func(error) {}
	}
	o := ManagedOOM{Swap: OOMAuto, MemoryPressure: OOMAuto, Preference: "none"}
	sec, ok := oomSections[u.Type]
	if !ok || u.File == nil {
		return o
	}
	modes := []string{OOMAuto, OOMKill}
	o.Swap = u.enum(sec, "ManagedOOMSwap", OOMAuto, modes, report)
	o.MemoryPressure = u.enum(sec, "ManagedOOMMemoryPressure", OOMAuto, modes, report)
	o.Preference = u.enum(sec, "ManagedOOMPreference", "none", []string{"none", "avoid", "omit"}, report)
	if e, ok := u.File.Lookup(sec, "ManagedOOMMemoryPressureLimit"); ok && e.Value != "" {
		if v, err := conf.ParsePermyriad(e.Value); err != nil {
			report(e.Wrap(err))
		} else {
			o.MemoryPressureLimit = v
		}
	}
	if e, ok := u.File.Lookup(sec, "ManagedOOMMemoryPressureDurationSec"); ok && e.Value != "" {
		d, err := conf.ParseTimespan(e.Value)
		switch {
		case err != nil:
			report(e.Wrap(err))
		case d < time.Second || d == conf.Infinity:
			report(e.Wrap(fmt.Errorf("duration %s out of range: at least 1s and finite", e.Value)))
		default:
			o.MemoryPressureDuration = d
		}
	}
	var rules uniqList
	for _, e := range u.File.Entries(sec, "OOMRules") {
		if e.Value == "" { // an empty assignment resets the list
			rules = uniqList{}
			continue
		}
		for _, r := range strings.Fields(e.Value) {
			if !validRuleName(r) {
				report(e.Wrap(fmt.Errorf("invalid OOM rule name %q", r)))
				continue
			}
			rules.add(r)
		}
	}
	o.Rules = rules.list
	return o
}

// validRuleName accepts what can name a *.oomrule file: no path
// separators, no leading dot, printable ASCII.
func validRuleName(r string) bool {
	if r == "" || len(r) > 255 || r[0] == '.' || strings.Contains(r, "/") {
		return false
	}
	for _, c := range r {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
