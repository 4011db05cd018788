package vm

import (
	"slices"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

func TestResolveModules(t *testing.T) {
	k, err := FindKernel()
	if err != nil {
		harness.Require(t, err.Error(), prereqPackages["kernel"])
	}
	mods, err := ResolveModules(k.Modules, DefaultModules)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range mods {
		if _, dup := pos[m.Name]; dup {
			t.Errorf("%s listed twice", m.Name)
		}
		pos[m.Name] = i
		if !strings.HasSuffix(m.Path, ".ko") || len(m.Data) < 4 || string(m.Data[1:4]) != "ELF" {
			t.Errorf("%s: path %s, not a plain ELF .ko", m.Name, m.Path)
		}
	}
	for _, m := range mods {
		for _, d := range m.Deps {
			if p, ok := pos[modName(d)]; ok && p > pos[m.Name] {
				t.Errorf("%s loads before its dependency %s", m.Name, d)
			}
		}
	}
	for _, want := range []string{"virtio_ring", "virtio", "virtio_pci", "virtio_net", "net_failover", "failover", "virtio_console"} {
		if _, ok := pos[want]; !ok {
			t.Errorf("%s missing from %v", want, names(mods))
		}
	}
	if pos["virtio_ring"] > pos["virtio_net"] || pos["failover"] > pos["net_failover"] {
		t.Errorf("bad order %v", names(mods))
	}
	t.Logf("load order: %v", names(mods))
	dep := string(modulesDep(mods))
	if !strings.Contains(dep, "kernel/drivers/net/virtio_net.ko: ") {
		t.Errorf("modules.dep:\n%s", dep)
	}
	if _, err := ResolveModules(k.Modules, []string{"no_such_module"}); err == nil {
		t.Error("unknown module: no error")
	}
}

func names(mods []Module) []string {
	var n []string
	for _, m := range mods {
		n = append(n, m.Name)
	}
	return slices.Clip(n)
}
