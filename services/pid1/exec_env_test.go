package pid1

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveIdentity(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken line\nsvc:x:1000:1000::/home/svc:/bin/sh\nnohome:x:1001:1001:::/bin/false\n",
		"etc/group":  "root:x:0:\nsvc:x:1000:\nwheel:x:10:svc,other\naudio:x:29:other\nbad:x:notanumber:svc\n",
	})
	id, err := resolveIdentity(root, "", "", nil)
	if err != nil || id.set || id.uid != 0 || id.user != "root" || id.home != "/root" {
		t.Errorf("no User=: %+v %v", id, err)
	}
	id, err = resolveIdentity(root, "svc", "", []string{"audio", "29", "7"})
	if err != nil {
		t.Fatal(err)
	}
	if !id.set || id.uid != 1000 || id.gid != 1000 || id.home != "/home/svc" || id.shell != "/bin/sh" ||
		!reflect.DeepEqual(id.groups, []uint32{10, 29, 7}) {
		t.Errorf("User=svc: %+v", id)
	}
	if id, err := resolveIdentity(root, "", "", []string{"audio"}); err != nil || id.set || !id.change || id.uid != 0 ||
		!reflect.DeepEqual(id.groups, []uint32{29}) {
		t.Errorf("SupplementaryGroups= alone: %+v %v", id, err)
	}
	if c := credential(identity{change: true, groups: []uint32{29}}, unit.ExecCommand{}); c == nil || c.Uid != 0 || len(c.Groups) != 1 {
		t.Errorf("credential for SupplementaryGroups= alone: %+v", c)
	}
	if c := credential(identity{set: true, change: true, uid: 5}, unit.ExecCommand{Privileged: true}); c != nil {
		t.Errorf("a '+' command switches credentials: %+v", c)
	}
	if id, err := resolveIdentity(root, "1000", "wheel", nil); err != nil || id.user != "svc" || id.gid != 10 {
		t.Errorf("User=1000 Group=wheel: %+v %v", id, err)
	}
	if id, err := resolveIdentity(root, "4711", "", nil); err != nil || id.uid != 4711 || id.gid != 4711 || id.home != "/" {
		t.Errorf("unknown numeric user: %+v %v", id, err)
	}
	if id, err := resolveIdentity(root, "nohome", "", nil); err != nil || id.home != "/" {
		t.Errorf("empty home: %+v %v", id, err)
	}
	if id, err := resolveIdentity(t.TempDir(), "root", "", nil); err != nil || id.uid != 0 || !id.set {
		t.Errorf("root without /etc/passwd: %+v %v", id, err)
	}
	for _, c := range [][3]string{{"nosuch", "", ""}, {"svc", "nosuch", ""}, {"svc", "", "nosuch"}, {"4294967295", "", ""}} {
		var sup []string
		if c[2] != "" {
			sup = []string{c[2]}
		}
		if _, err := resolveIdentity(root, c[0], c[1], sup); err == nil {
			t.Errorf("User=%s Group=%s SupplementaryGroups=%s accepted", c[0], c[1], c[2])
		}
	}
}

func FuzzPasswdGroup(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/sh\n", "wheel:x:10:a,b\n")
	f.Add("a:x:1:1::/:\n::::::\n", ":x:1:\nx:x:99999999999:\n")
	f.Fuzz(func(t *testing.T, passwd, group string) {
		for _, e := range parsePasswd([]byte(passwd)) {
			if e.name == "" || strings.Contains(e.name, ":") {
				t.Fatalf("bad passwd entry %+v", e)
			}
		}
		for _, g := range parseGroup([]byte(group)) {
			if g.name == "" {
				t.Fatalf("bad group entry %+v", g)
			}
		}
	})
}

// newExecTestManager is a host-mode manager over root that is not running.
func newExecTestManager(t *testing.T, root string) *Manager {
	t.Helper()
	m, err := New(Config{Root: root, Host: true, ShimArgv: []string{"/bin/false"}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func loadService(t *testing.T, root, name, content string) *unitState {
	t.Helper()
	writeTree(t, root, map[string]string{"etc/systemd/system/" + name: content})
	u, err := unit.Load(root, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &unitState{u: u, active: StateInactive}
}

func TestEnvironmentPrecedence(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/a.env":       "A=from-file\nB=file\n",
		"etc/env.d/1.env": "G1=1\n",
		"etc/env.d/2.env": "G2=2\n",
	})
	m := newExecTestManager(t, root)
	us := loadService(t, root, "x.service", `[Service]
ExecStart=/bin/true
Environment=A=unit B=unit USER=override
EnvironmentFile=/etc/a.env
EnvironmentFile=-/etc/missing
EnvironmentFile=/etc/env.d/*.env
RuntimeDirectory=r1 r2
`)
	us.rt.invocationID = "0123456789abcdef0123456789abcdef"
	us.svc.mainPID = 42
	env, mp, err := m.environment(us, false, []string{"LISTEN_FDS=1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"A": "from-file", "B": "file", "USER": "override", "G1": "1", "G2": "2", "LISTEN_FDS": "1", "MAINPID": "42",
		"INVOCATION_ID":     us.rt.invocationID,
		"RUNTIME_DIRECTORY": filepath.Join(root, "run/r1") + ":" + filepath.Join(root, "run/r2"),
	}
	for k, v := range want {
		if mp[k] != v {
			t.Errorf("%s=%q, want %q (env %q)", k, mp[k], v, env)
		}
	}
	if _, ok := mp["HOME"]; ok {
		t.Errorf("HOME set without User=: %q", env)
	}
	if _, ok := mp["SERVICE_RESULT"]; ok {
		t.Errorf("SERVICE_RESULT outside the stop phases: %q", env)
	}
	// The main process gets no MAINPID; stop commands get the result.
	_, mp, _ = m.environment(us, true, nil)
	if _, ok := mp["MAINPID"]; ok {
		t.Error("MAINPID passed to the main process")
	}
	us.svc.phase, us.result = phaseStopPost, resultExitCode
	us.svc.execMain = exitStatus{pid: 42, code: cldExited, status: 3}
	_, mp, _ = m.environment(us, false, nil)
	if mp["SERVICE_RESULT"] != "exit-code" || mp["EXIT_CODE"] != "exited" || mp["EXIT_STATUS"] != "3" {
		t.Errorf("stop-post environment: %v", mp)
	}
	us.svc.execMain = exitStatus{pid: 42, code: cldDumped, status: 6}
	_, mp, _ = m.environment(us, false, nil)
	if mp["EXIT_CODE"] != "dumped" || mp["EXIT_STATUS"] != "ABRT" {
		t.Errorf("stop-post environment after a core dump: %v", mp)
	}

	bad := loadService(t, root, "y.service", "[Service]\nExecStart=/bin/true\nEnvironmentFile=/etc/missing\n")
	if _, _, err := m.environment(bad, true, nil); err == nil {
		t.Error("a missing EnvironmentFile= without '-' was accepted")
	}
}

func TestWorkingDirectory(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"home/u/.keep": "", "srv/file": ""})
	m := newExecTestManager(t, root)
	for _, c := range []struct {
		wd, want string
		fail     bool
	}{
		{"", root, false},
		{"~", filepath.Join(root, "home/u"), false},
		{"/srv", filepath.Join(root, "srv"), false},
		{"-/nonexistent", root, false},
		{"/nonexistent", "", true},
		{"/srv/file", "", true},
	} {
		us := loadService(t, root, "w.service", "[Service]\nExecStart=/bin/true\nWorkingDirectory="+c.wd+"\n")
		us.svc.ex.id = identity{set: true, home: "/home/u"}
		got, err := m.workingDir(us)
		if (err != nil) != c.fail || got != c.want {
			t.Errorf("WorkingDirectory=%s: %q %v", c.wd, got, err)
		}
	}
}

func TestCollectCredentials(t *testing.T) {
	root := t.TempDir()
	sys := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", sys)
	writeTree(t, sys, map[string]string{"pass.x": "sys-x", "tok": "sys-tok"})
	writeTree(t, root, map[string]string{
		"etc/credstore/tok":     "etc-tok",
		"etc/credstore/pass.y":  "etc-y",
		"run/credstore/pass.x":  "run-x",
		"usr/lib/credstore/low": "lib-low",
		"srv/keys/k1":           "one",
		"srv/keys/sub/k2":       "two",
		"srv/single":            "single",
	})
	m := newExecTestManager(t, root)
	us := loadService(t, root, "c.service", `[Service]
ExecStart=/bin/true
LoadCredential=tok
LoadCredential=low
LoadCredential=dir:/srv/keys
LoadCredential=file:/srv/single
LoadCredential=missing
SetCredential=file:not-used
SetCredential=lit:a\x00b
ImportCredential=pass.*:imported.
ImportCredential=pass.x
`)
	got, err := m.collectCredentials(us.u.Name, us.u.Service)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"tok": "sys-tok", "low": "lib-low", "dir_k1": "one", "dir_sub_k2": "two", "file": "single",
		"lit": "a\x00b", "imported.x": "sys-x", "imported.y": "etc-y", "pass.x": "sys-x",
	}
	if len(got) != len(want) {
		t.Errorf("got %d credentials, want %d: %q", len(got), len(want), got)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	abs := loadService(t, root, "d.service", "[Service]\nExecStart=/bin/true\nLoadCredential=x:/srv/nonexistent\n")
	if _, err := m.collectCredentials(abs.u.Name, abs.u.Service); err == nil {
		t.Error("a missing absolute LoadCredential= was accepted")
	}
}

// A service that owns StateDirectory=a can plant a symlink at a/b; the next
// start must not chmod/chown what it points to, nor create through it.
func TestMakeDirsDoesNotFollowSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	writeTree(t, outside, map[string]string{"secret": "x"})
	if err := os.Chmod(secret, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "var/lib/a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "var/lib/a/b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "var/lib/a/c")); err != nil {
		t.Fatal(err)
	}
	m := newExecTestManager(t, root)
	for _, c := range []string{"a/b", "a/c/d"} {
		us := loadService(t, root, "s.service", "[Service]\nExecStart=/bin/true\nStateDirectory=a "+c+"\nStateDirectoryMode=0777\n")
		if err := m.makeDirs(us); err == nil {
			t.Errorf("StateDirectory=%s through a symlink was accepted", c)
		}
	}
	if st, err := os.Stat(secret); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("file behind the symlink: %v %v, want mode 0600", st.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(outside, "d")); err == nil {
		t.Error("a directory was created through a symlink")
	}
	// The ordinary case still works: parents 0755, the directory its mode.
	us := loadService(t, root, "s.service", "[Service]\nExecStart=/bin/true\nRuntimeDirectory=x/y\nRuntimeDirectoryMode=0710\n")
	if err := m.makeDirs(us); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(root, "run/x/y")); err != nil || st.Mode().Perm() != 0o710 {
		t.Errorf("run/x/y: %v %v", st, err)
	}
	if err := m.makeDirs(us); err != nil {
		t.Errorf("second start: %v", err)
	}
}

// The drain of leftover processes runs outside m.mu: it must not read the
// unit (which daemon-reload replaces) while waiting. Run with -race.
func TestDrainCgroupRacesNotWithReload(t *testing.T) {
	root := t.TempDir()
	m := newExecTestManager(t, root)
	us := loadService(t, root, "d.service", "[Service]\nExecStart=/bin/true\nKillMode=control-group\nKillSignal=SIGUSR1\nTimeoutStopSec=1ms\n")
	m.units["d.service"] = us
	// A manager run by an earlier test made this process a subreaper: the
	// shell's killed children would become our zombies, which no reaper
	// collects here, and keep the process group alive for good.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	// A process group that ignores KillSignal=: the drain times out and kills it.
	cmd := exec.Command("/bin/sh", "-c", "trap '' USR1; echo ok; while :; do sleep 0.01; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Read(make([]byte, 3)); err != nil { // the trap is set
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	us.svc.ex.pgid = cmd.Process.Pid
	done := make(chan struct{})
	m.mu.Lock()
	m.drainCgroup(us, func() { close(done) })
	m.mu.Unlock()
	for {
		select {
		case <-done:
			<-waited
			return
		default:
		}
		if err := m.ReloadUnits(); err != nil {
			t.Fatal(err)
		}
	}
}

// EnvironmentFile= is read by the manager itself: a FIFO (which another
// service could create in a directory it owns) must be refused, not read
// (which blocks the whole manager until someone writes).
func TestEnvironmentFileRefusesFIFO(t *testing.T) {
	root := t.TempDir()
	fifo := filepath.Join(root, "env.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan struct{})
	go func() { // only a reader that opened the FIFO lets this open return
		defer close(wrote)
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			_, _ = f.WriteString("A=1\n")
			f.Close()
		}
	}()
	m := newExecTestManager(t, root)
	vars, err := m.readEnvironmentFile("/env.fifo")
	if err == nil {
		t.Fatalf("a FIFO was read as EnvironmentFile=: %q", vars) // and the writer is done
	}
	if vars, err := m.readEnvironmentFile("-/env.fifo"); err != nil || len(vars) != 0 {
		t.Errorf("optional FIFO: %q %v", vars, err)
	}
	// Release the writer if nobody read.
	if f, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
		<-wrote
		f.Close()
	}
	<-wrote
}

// lstatOwner returns the owner of p itself (a symlink's own).
func lstatOwner(t *testing.T, p string) (uid, gid uint32) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Gid
}

// A StateDirectory= that exists with another owner (another service's, or
// this one's before User= changed) is taken over with what is in it, by
// the service's user, or by root without User=; links are not followed.
func TestMakeDirsTakesOverOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing owners needs root")
	}
	root := t.TempDir()
	outside := filepath.Join(root, "outside") // same filesystem: hard links work
	writeTree(t, root, map[string]string{
		"etc/passwd":                  "svc:x:1000:1000::/:/bin/sh\n",
		"etc/group":                   "svc:x:1000:\n",
		"var/lib/shared/file":         "x",
		"var/lib/shared/sub/deeper/f": "y",
		"outside/target":              "not the service's",
		"outside/linked":              "hard-linked into the directory",
	})
	shared := filepath.Join(root, "var/lib/shared")
	if err := os.Symlink(filepath.Join(outside, "target"), filepath.Join(shared, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(outside, "linked"), filepath.Join(shared, "hard")); err != nil {
		t.Fatal(err)
	}
	if err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil || p == root || p == filepath.Join(root, "var") || p == filepath.Join(root, "var/lib") {
			return err
		}
		owner := 1234 // the other user, outside as well
		return os.Lchown(p, owner, owner)
	}); err != nil {
		t.Fatal(err)
	}
	m := newExecTestManager(t, root)
	inside := []string{"", "file", "sub", "sub/deeper", "sub/deeper/f", "link"}
	for _, c := range []struct {
		user     string
		uid, gid uint32
	}{{"svc", 1000, 1000}, {"", 0, 0}} {
		us := loadService(t, root, "s.service", "[Service]\nExecStart=/bin/true\nUser="+c.user+"\nStateDirectory=shared\nStateDirectoryMode=0750\n")
		id, err := resolveIdentity(root, c.user, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		us.svc.ex.id = id
		if err := m.makeDirs(us); err != nil {
			t.Fatal(err)
		}
		for _, p := range inside {
			if uid, gid := lstatOwner(t, filepath.Join(shared, p)); uid != c.uid || gid != c.gid {
				t.Errorf("User=%s: shared/%s owned by %d:%d, want %d:%d", c.user, p, uid, gid, c.uid, c.gid)
			}
		}
		for _, p := range []string{"outside/target", "outside/linked"} {
			if uid, _ := lstatOwner(t, filepath.Join(root, p)); uid != 1234 {
				t.Errorf("User=%s: %s (linked from the directory) now owned by %d", c.user, p, uid)
			}
		}
		if st, err := os.Stat(shared); err != nil || st.Mode().Perm() != 0o750 {
			t.Errorf("User=%s: mode %v %v", c.user, st.Mode(), err)
		}
	}
}
