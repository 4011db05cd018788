package pid1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

func TestMountPlanOrder(t *testing.T) {
	root := t.TempDir()
	m := newExecTestManager(t, root)
	us := loadService(t, root, "a.service", `[Service]
ExecStart=/bin/true
StateDirectory=a
ReadWritePaths=/var/lib/x/y
ProtectSystem=strict
InaccessiblePaths=-/secret
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
`)
	us.rt.invocationID = "0123456789abcdef0123456789abcdef"
	ops, err := m.mountPlan(us)
	if err != nil {
		t.Fatal(err)
	}
	depth := -1
	idx := map[string]int{}
	for i, op := range ops {
		if d := pathDepth(op.Path); d < depth {
			t.Errorf("step %d %s %s is shallower than the one before", i, op.Kind, op.Path)
		} else {
			depth = d
		}
		idx[op.Kind+" "+op.Path] = i
	}
	for _, want := range []string{"ro /", "rw /dev", "private-dev /dev", "rw /proc", "ro /proc/sys", "bind /tmp", "bind /var/tmp",
		"rw " + filepath.Join(root, "var/lib/a"), "rw /var/lib/x/y", "inaccessible /secret"} {
		if _, ok := idx[want]; !ok {
			t.Errorf("no step %q in %+v", want, ops)
		}
	}
	// ProtectKernelTunables= leaves the cgroup tree writable; ProtectControlGroups= (later)
	// makes it read-only.
	if i, ok := idx["rw /sys/fs/cgroup"]; !ok || idx["ro /sys"] > i || idx["ro /sys/fs/cgroup"] < i {
		t.Errorf("cgroup steps out of order: %v", idx)
	}
	if idx["rw /dev"] > idx["private-dev /dev"] {
		t.Error("the private /dev comes before /dev is made writable again")
	}
	for _, op := range ops {
		if op.Kind == "inaccessible" && op.Source != filepath.Join(root, inaccessibleDir) {
			t.Errorf("inaccessible source %q", op.Source)
		}
		if op.Kind == "bind" && op.Path == "/tmp" {
			st, err := os.Stat(op.Source)
			if err != nil || st.Mode().Perm() != 0o777 || st.Mode()&os.ModeSticky == 0 ||
				!strings.Contains(op.Source, "systemd-private-0123456789abcdef0123456789abcdef-a.service") {
				t.Errorf("private /tmp source %s: %v %v", op.Source, st.Mode(), err)
			}
		}
	}
	m.releaseSandbox(us)
	if matches, _ := filepath.Glob(filepath.Join(root, "tmp/systemd-private-*")); len(matches) != 0 {
		t.Errorf("left after release: %v", matches)
	}
}

func TestSandboxSpecPrivileges(t *testing.T) {
	root := t.TempDir()
	m := newExecTestManager(t, root)
	us := loadService(t, root, "a.service", "[Service]\nExecStart=/bin/true\nProtectKernelModules=yes\nProtectClock=yes\nPrivateNetwork=yes\nProtectHostname=yes\n")
	c := us.u.Service.ExecStart[0]
	sp, unshare, err := m.sandboxSpecFor(us, c, nil, commandPrivileges(us.u.Service, c))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{unix.CAP_SYS_MODULE, unix.CAP_SYS_TIME, unix.CAP_WAKE_ALARM} {
		if sp.Bounding.Has(n) {
			t.Errorf("%s still in the bounding set", unit.CapabilityName(n))
		}
	}
	if unshare != unix.CLONE_NEWNS|unix.CLONE_NEWNET|unix.CLONE_NEWUTS || !sp.Loopback {
		t.Errorf("unshare %#x loopback %v", unshare, sp.Loopback)
	}
	if len(sp.Filters) != 1 || sp.Filters[0].Default.Kind != "allow" {
		t.Fatalf("filters %+v", sp.Filters)
	}
	refused := map[string]bool{}
	for _, r := range sp.Filters[0].Rules {
		refused[r.Syscall] = true
	}
	for _, call := range []string{"init_module", "settimeofday", "sethostname"} {
		if !refused[call] {
			t.Errorf("%s not refused", call)
		}
	}
	// An ambient capability a Protect*= setting drops fails the start.
	us = loadService(t, root, "b.service", "[Service]\nExecStart=/bin/true\nProtectClock=yes\nAmbientCapabilities=CAP_SYS_TIME\n")
	c = us.u.Service.ExecStart[0]
	if _, _, err := m.sandboxSpecFor(us, c, nil, commandPrivileges(us.u.Service, c)); err == nil || !strings.Contains(err.Error(), "CAP_SYS_TIME") {
		t.Errorf("ambient CAP_SYS_TIME under ProtectClock=: %v", err)
	}
	// "+" commands run without the sandbox.
	us = loadService(t, root, "c.service", "[Service]\nExecStart=+/bin/true\nProtectSystem=strict\nSystemCallFilter=~@mount\n")
	c = us.u.Service.ExecStart[0]
	sp, unshare, err = m.sandboxSpecFor(us, c, nil, commandPrivileges(us.u.Service, c))
	if err != nil || unshare != 0 || len(sp.Mounts) != 0 || len(sp.Filters) != 0 {
		t.Errorf("+ command: %+v %#x %v", sp, unshare, err)
	}
}

func TestDynamicUIDAllocation(t *testing.T) {
	root := t.TempDir()
	m := newExecTestManager(t, root)
	writeTree(t, root, map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\nstatic:x:1000:1000::/:/bin/sh\n"})
	a, err := m.allocateDynamicUID("alpha")
	if err != nil || a < dynamicUIDMin || a > dynamicUIDMax {
		t.Fatalf("alpha: %d %v", a, err)
	}
	if again, _ := m.allocateDynamicUID("alpha"); again != a {
		t.Errorf("alpha got %d, then %d", a, again)
	}
	b, err := m.allocateDynamicUID("beta")
	if err != nil || b == a {
		t.Errorf("beta: %d %v (alpha %d)", b, err, a)
	}
	us := loadService(t, root, "static.service", "[Service]\nExecStart=/bin/true\nDynamicUser=yes\n")
	id, err := m.serviceIdentity(us)
	if err != nil || id.uid != 1000 {
		t.Errorf("a static user of the name wins: %+v %v", id, err)
	}
	us = loadService(t, root, "a@b.service", "[Service]\nExecStart=/bin/true\nDynamicUser=yes\n")
	if _, err := m.serviceIdentity(us); err != nil {
		t.Errorf("instance of a: %v", err) // prefix "a"
	}
	us = loadService(t, root, "9bad.service", "[Service]\nExecStart=/bin/true\nDynamicUser=yes\n")
	if _, err := m.serviceIdentity(us); err == nil {
		t.Error("an invalid user name was accepted")
	}
	for _, n := range []string{"a", "_x", "Ab-9"} {
		if !validUserName(n) {
			t.Errorf("%q rejected", n)
		}
	}
	for _, n := range []string{"", "9a", "a.b", "-a", strings.Repeat("a", 32)} {
		if validUserName(n) {
			t.Errorf("%q accepted", n)
		}
	}
}
