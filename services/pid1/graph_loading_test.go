package pid1

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stead-os/stead/lib/unit"
)

// TestGraphAliasesAndReverseDeps: loading a unit loads what it names; an alias is the same
// unit (one entry, no dependency on itself); every dependency is recorded in both directions.
func TestGraphAliasesAndReverseDeps(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "a.service", "[Unit]\nWants=b.service\nConflicts=alias-a.service c.service\nOnFailure=c.service\nBefore=b.service\n[Service]\nExecStart=/bin/true\n")
	writeUnit(t, root, "b.service", "[Unit]\nRequires=alias-a.service\nPartOf=a.service\n[Service]\nExecStart=/bin/true\n")
	writeUnit(t, root, "c.service", "[Service]\nExecStart=/bin/true\n")
	writeUnit(t, root, "s.socket", "[Socket]\nListenStream=/run/s.sock\n")
	writeUnit(t, root, "s.service", "[Service]\nExecStart=/bin/true\n")
	if err := os.Symlink("a.service", filepath.Join(root, "etc/systemd/system/alias-a.service")); err != nil {
		t.Fatal(err)
	}
	m, _ := newTestManager(t, root)
	m.mu.Lock()
	defer m.mu.Unlock()
	us, err := m.get("alias-a.service")
	if err != nil || us.u.Name != "a.service" {
		t.Fatalf("alias: %v %+v", err, us)
	}
	if _, err := m.get("s.socket"); err != nil {
		t.Fatal(err)
	}
	if m.units["alias-a.service"] != nil {
		t.Error("the alias has its own entry")
	}
	g := m.rels().deps
	for _, c := range []struct {
		unit, kind string
		want       []string
	}{
		{"a.service", unit.DepConflicts, []string{"c.service"}}, // shutdown.target does not exist here: left out
		{"a.service", unit.DepRequiredBy, []string{"b.service"}},
		{"a.service", unit.DepConsistsOf, []string{"b.service"}},
		{"b.service", unit.DepWantedBy, []string{"a.service"}},
		{"b.service", unit.DepAfter, []string{"a.service"}},
		{"c.service", unit.DepConflictedBy, []string{"a.service"}},
		{"c.service", unit.DepOnFailureOf, []string{"a.service"}},
		{"s.service", unit.DepTriggeredBy, []string{"s.socket"}},
		{"s.service", unit.DepAfter, []string{"s.socket"}},
	} {
		got := g[c.unit][c.kind]
		for _, w := range c.want {
			found := false
			for _, x := range got {
				found = found || x == w
			}
			if !found {
				t.Errorf("%s %s = %v, want %v in it", c.unit, c.kind, got, w)
			}
		}
	}
	for _, l := range g["a.service"] {
		for _, n := range l {
			if n == "a.service" || n == "alias-a.service" {
				t.Errorf("a.service depends on itself: %v", g["a.service"])
			}
		}
	}
	if names := us.u.Names; !reflect.DeepEqual(names, []string{"a.service", "alias-a.service"}) {
		t.Errorf("names %v", names)
	}
}

// TestReloadLoadsNewlyNamedUnits: after daemon-reload, a unit that a reloaded file names for
// the first time is loaded (with what it names in turn), as at boot.
func TestReloadLoadsNewlyNamedUnits(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "a.target", "[Unit]\nDescription=a\n")
	m, _ := newTestManager(t, root)
	m.mu.Lock()
	if _, err := m.get("a.target"); err != nil {
		t.Fatal(err)
	}
	m.mu.Unlock()
	writeUnit(t, root, "a.target", "[Unit]\nAfter=b.service\n")
	writeUnit(t, root, "b.service", "[Unit]\nAfter=c.service\n[Service]\nExecStart=/bin/true\n")
	writeUnit(t, root, "c.service", "[Service]\nExecStart=/bin/true\n")
	if err := m.ReloadUnits(); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range []string{"b.service", "c.service"} {
		if us := m.units[n]; us == nil || us.u.LoadState != unit.Loaded {
			t.Errorf("%s not loaded after the reload: %+v", n, us)
		}
	}
}
