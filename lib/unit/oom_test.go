package unit

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/conf"
)

func parseUnitText(t testing.TB, name, text string) *Unit {
	f, err := conf.Parse(strings.NewReader(text), name, nil)
	if err != nil {
		t.Skip(err)
	}
	_, _, typ, _, _ := ParseName(name)
	return &Unit{Name: name, Type: typ, File: f}
}

func TestManagedOOM(t *testing.T) {
	u := parseUnitText(t, "a.service", `[Service]
ManagedOOMSwap=kill
ManagedOOMMemoryPressure=kill
ManagedOOMMemoryPressureLimit=42.5%
ManagedOOMMemoryPressureDurationSec=20s
ManagedOOMPreference=avoid
OOMRules=heavy light
OOMRules=heavy ../etc
`)
	var warns []string
	o := u.ManagedOOM(func(e error) { warns = append(warns, e.Error()) })
	want := ManagedOOM{Swap: OOMKill, MemoryPressure: OOMKill, MemoryPressureLimit: 4250,
		MemoryPressureDuration: 20 * time.Second, Preference: "avoid", Rules: []string{"heavy", "light"}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v, want %+v", o, want)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "a.service:8") {
		t.Errorf("warnings %q: want one for ../etc with file:line", warns)
	}
}

func TestManagedOOMBadValuesAndReset(t *testing.T) {
	u := parseUnitText(t, "b.slice", `[Slice]
ManagedOOMSwap=maybe
ManagedOOMMemoryPressureLimit=120%
ManagedOOMMemoryPressureDurationSec=infinity
OOMRules=x
OOMRules=
`)
	var n int
	o := u.ManagedOOM(func(error) { n++ })
	want := ManagedOOM{Swap: OOMAuto, MemoryPressure: OOMAuto, Preference: "none"}
	if !reflect.DeepEqual(o, want) || n != 3 {
		t.Errorf("got %+v with %d warnings, want defaults and 3", o, n)
	}
	// Targets have no cgroup: their [Unit] keys are never read.
	tg := parseUnitText(t, "c.target", "[Target]\nManagedOOMSwap=kill\n")
	if o := tg.ManagedOOM(nil); o.Swap != OOMAuto {
		t.Errorf("target: %+v", o)
	}
}

func FuzzManagedOOM(f *testing.F) {
	f.Add("kill", "auto", "50%", "30s", "omit", "a b")
	f.Add("", "x", "1000‱", "0", "none", "../x .y")
	f.Fuzz(func(t *testing.T, swap, mp, limit, dur, pref, rules string) {
		text := "[Service]\nManagedOOMSwap=" + swap + "\nManagedOOMMemoryPressure=" + mp +
			"\nManagedOOMMemoryPressureLimit=" + limit + "\nManagedOOMMemoryPressureDurationSec=" + dur +
			"\nManagedOOMPreference=" + pref + "\nOOMRules=" + rules + "\n"
		u := parseUnitText(t, "f.service", text)
		o := u.ManagedOOM(nil)
		if (o.Swap != OOMAuto && o.Swap != OOMKill) || (o.MemoryPressure != OOMAuto && o.MemoryPressure != OOMKill) {
			t.Fatalf("bad mode in %+v", o)
		}
		if o.MemoryPressureLimit < 0 || o.MemoryPressureLimit > 10000 {
			t.Fatalf("limit %d out of range", o.MemoryPressureLimit)
		}
		if o.MemoryPressureDuration != 0 && o.MemoryPressureDuration < time.Second {
			t.Fatalf("duration %v below 1s", o.MemoryPressureDuration)
		}
		for _, r := range o.Rules {
			if !validRuleName(r) {
				t.Fatalf("invalid rule %q kept", r)
			}
		}
	})
}
