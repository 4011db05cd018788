//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/api/iosystemdunit"
	"github.com/stead-os/stead/lib/varlinkd"
)

// startHostInit runs init in host mode over root (harness.StartDaemon: the cleanup stops it
// with SIGTERM, then SIGKILL after 10 s, and shows its log when the test failed). done
// delivers its exit once; a test that takes it puts it back for other readers.
func startHostInit(t *testing.T, bin, root string) (*exec.Cmd, chan error, *harness.SyncBuffer) {
	t.Helper()
	return startHostInitCmd(t, bin, root, nil)
}

// startHostInitCmd is startHostInit with a hook to adjust the command (environment, cgroup)
// before it starts.
func startHostInitCmd(t *testing.T, bin, root string, adjust func(*exec.Cmd)) (*exec.Cmd, chan error, *harness.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, "--host", "--root="+root)
	if adjust != nil {
		adjust(cmd)
	}
	d := harness.StartDaemon(t, cmd, harness.StopGrace(10*time.Second))
	done := make(chan error, 1)
	go func() { done <- d.Err() }()
	return cmd, done, d.Out
}

// initWriteUnit writes the unit file name into root's /etc/systemd/system.
func initWriteUnit(t *testing.T, root, name, content string) {
	t.Helper()
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/system", name), content, 0o644)
}

// initDial connects to sock, one of init's sockets in root's /run/systemd, with a context that
// ends after 10 s; closeVC closes both.
func initDial(t *testing.T, root, sock string) (ctx context.Context, vc *varlinkd.Client, closeVC func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	vc, err := varlinkd.Dial(ctx, "unix:"+filepath.Join(root, "run/systemd", sock))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return ctx, vc, func() { vc.Close(); cancel() }
}

// initConnect dials addr, a socket init listens on, until it answers (15 s at most), and
// fails the test with init's log if it does not.
func initConnect(t *testing.T, network, addr string, log *harness.SyncBuffer) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	harness.Eventually(t, "a connection to "+addr, 15*time.Second, func() bool {
		c, err = net.Dial(network, addr)
		return err == nil
	}, func() string { return fmt.Sprintf("last dial: %v", err) }, harness.Output("init log", log))
	return c
}

// initWaitPath waits up to 15 s for p (a socket init makes) to exist, and fails the test with
// init's log if it does not.
func initWaitPath(t *testing.T, p string, log *harness.SyncBuffer) {
	t.Helper()
	harness.Eventually(t, p+" to appear", 15*time.Second, func() bool {
		_, err := os.Stat(p)
		return err == nil
	}, harness.Output("init log", log))
}

// initWaitFile waits up to 15 s for p to hold a complete line (ending in a newline) and
// returns its content; it fails the test with init's log if it does not.
func initWaitFile(t *testing.T, p string, log *harness.SyncBuffer) []byte {
	t.Helper()
	var b []byte
	harness.Eventually(t, p+" to be written", 15*time.Second, func() bool {
		var err error
		b, err = os.ReadFile(p)
		return err == nil && len(b) > 0 && b[len(b)-1] == '\n'
	}, harness.Output("init log", log))
	return b
}

// TestInitHostModeSocketActivation runs the real init binary in host mode over a temporary root:
// a socket-activated shell service must see LISTEN_PID equal to its own pid (through the real
// `init --exec-shim`), the manager answers io.systemd.Manager, and SIGTERM stops everything.
func TestInitHostModeSocketActivation(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root, err := os.MkdirTemp("", "init")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	out := filepath.Join(root, "out")
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=act.socket first.service\n")
	initWriteUnit(t, root, "first.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/echo started %n\n")
	initWriteUnit(t, root, "act.socket", "[Socket]\nListenStream=/run/act.sock\nFileDescriptorName=act\n")
	initWriteUnit(t, root, "act.service", `[Service]
ExecStart=/bin/sh -c 'echo "pid=$$$$ listen=$LISTEN_PID fds=$LISTEN_FDS names=$LISTEN_FDNAMES" > `+out+`; exec sleep 600'
`)
	cmd, done, log := startHostInit(t, bin, root)

	c := initConnect(t, "unix", filepath.Join(root, "run/act.sock"), log)
	defer c.Close()
	got := strings.TrimSpace(string(initWaitFile(t, out, log)))
	var pid, listen, fds, names string
	for _, f := range strings.Fields(got) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "pid":
			pid = v
		case "listen":
			listen = v
		case "fds":
			fds = v
		case "names":
			names = v
		}
	}
	if pid == "" || pid != listen || fds != "1" || names != "act" {
		t.Errorf("service saw %q: want LISTEN_PID equal to its pid, LISTEN_FDS=1, LISTEN_FDNAMES=act", got)
	}

	ctx, vc, closeVC := initDial(t, root, "io.systemd.Manager")
	defer closeVC()
	var desc struct {
		Runtime map[string]json.RawMessage `json:"runtime"`
	}
	if err := vc.Call(ctx, "io.systemd.Manager.Describe", nil, &desc); err != nil {
		t.Fatal(err)
	}
	if string(desc.Runtime["ReloadCount"]) != "0" || string(desc.Runtime["KExecsCount"]) != "0" {
		t.Errorf("Describe runtime: %v", desc.Runtime)
	}
	if err := vc.Call(ctx, "io.systemd.Manager.Reload", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := vc.Call(ctx, "io.systemd.Manager.Describe", nil, &desc); err != nil {
		t.Fatal(err)
	}
	if string(desc.Runtime["ReloadCount"]) != "1" {
		t.Errorf("ReloadCount after Reload: %s", desc.Runtime["ReloadCount"])
	}

	initStop(t, cmd, done)
	if p := pid; p != "" {
		if _, err := os.Stat("/proc/" + p); err == nil {
			b, _ := os.ReadFile("/proc/" + p + "/stat")
			if !strings.Contains(string(b), " Z ") {
				t.Errorf("service process %s still runs after init stopped", p)
			}
		}
	}
	if !strings.Contains(log.String(), "first.service: started first.service") {
		t.Errorf("output not prefixed with the unit name:\n%s", log.String())
	}
}

// TestInitUpstreamVarlinkctl drives our init's io.systemd.Manager and io.systemd.Unit with the
// real upstream varlinkctl: Describe, Reload, List with --more, NoSuchUnit, and introspection
// that upstream's validate-idl accepts.
func TestInitUpstreamVarlinkctl(t *testing.T) {
	up := harness.NeedUpstream(t)
	bin := harness.Binary(t, "cmd/init")
	host, inside := up.Stage(t)
	initWriteUnit(t, host, "default.target", "[Unit]\nDescription=Default target\nWants=x.service\n")
	initWriteUnit(t, host, "x.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
	_, _, log := startHostInit(t, bin, host)
	addr := "unix:" + filepath.Join(inside, "run/systemd/io.systemd.Manager")
	initWaitPath(t, filepath.Join(host, "run/systemd/io.systemd.Manager"), log)
	call := func(args ...string) string {
		t.Helper()
		out, errOut, code := up.Run(t, "varlinkctl", args...)
		if code != 0 {
			t.Fatalf("varlinkctl %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	var desc struct {
		Runtime map[string]json.RawMessage `json:"runtime"`
	}
	if err := json.Unmarshal([]byte(call("call", addr, "io.systemd.Manager.Describe", "{}")), &desc); err != nil {
		t.Fatal(err)
	}
	if string(desc.Runtime["ReloadCount"]) != "0" {
		t.Errorf("ReloadCount %s", desc.Runtime["ReloadCount"])
	}
	call("call", addr, "io.systemd.Manager.Reload", "{}")
	if err := json.Unmarshal([]byte(call("call", addr, "io.systemd.Manager.Describe", "{}")), &desc); err != nil {
		t.Fatal(err)
	}
	if string(desc.Runtime["ReloadCount"]) != "1" {
		t.Errorf("ReloadCount after Reload %s", desc.Runtime["ReloadCount"])
	}
	// Wait for x.service, then list everything.
	var list string
	harness.Eventually(t, "x.service exited in List --more", 10*time.Second, func() bool {
		list = call("call", "--more", addr, "io.systemd.Unit.List", "{}")
		return strings.Contains(list, `"ID":"x.service"`) && strings.Contains(list, `"SubState":"exited"`)
	}, func() string { return "List --more: " + list })
	if !strings.Contains(list, `"ID":"default.target"`) {
		t.Errorf("List --more lacks default.target: %s", list)
	}
	_, errOut, code := up.Run(t, "varlinkctl", "call", addr, "io.systemd.Unit.List", `{"name":"nope.service"}`)
	if code == 0 || !strings.Contains(errOut, "io.systemd.Unit.NoSuchUnit") {
		t.Errorf("List nope.service: exit %d, %s", code, errOut)
	}
	for _, iface := range []string{"io.systemd.Manager", "io.systemd.Unit"} {
		idl := call("introspect", addr, iface)
		harness.WriteFile(t, filepath.Join(host, iface+".varlink"), idl, 0o644)
		call("validate-idl", filepath.Join(inside, iface+".varlink"))
	}
}

// initRoot makes a temporary root that other users may traverse (services with User= must
// reach their directories in it).
func initRoot(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("", "init")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// initUsers gives root an /etc/passwd and /etc/group with the service user svc (4242, primary
// group svcgrp 4243, also a member of extra 4244) and its home directory.
func initUsers(t *testing.T, root string) {
	t.Helper()
	harness.NeedRoot(t, "changing the user of services")
	harness.WriteFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nsvc:x:4242:4243:test:/home/svc:/bin/sh\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/group"), "root:x:0:\nsvcgrp:x:4243:\nextra:x:4244:root,svc\nmore:x:4245:\n", 0o644)
	home := filepath.Join(root, "home/svc")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 4242, 4243); err != nil {
		t.Fatal(err)
	}
}

// initUnit is an io.systemd.Unit.List reply.
type initUnit = iosystemdunit.Unit

// initMainPID returns a unit's main process id, 0 if none.
func initMainPID(u initUnit) int {
	if u.Runtime.Service == nil || u.Runtime.Service.MainPID == nil {
		return 0
	}
	return int(u.Runtime.Service.MainPID.PID)
}

// initQuery asks the manager over its socket for one unit; ok is false for NoSuchUnit (or
// while the socket is not up yet).
func initQuery(t *testing.T, root, name string) (u initUnit, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := varlinkd.Dial(ctx, "unix:"+filepath.Join(root, "run/systemd/io.systemd.Manager"))
	if err != nil {
		return u, false
	}
	defer c.Close()
	u, err = iosystemdunit.NewClient(c).Get(ctx, name)
	return u, err == nil
}

// initWaitUnit polls a unit until cond holds; it fails the test after 20 s.
func initWaitUnit(t *testing.T, root, name string, log *harness.SyncBuffer, what string, cond func(initUnit, bool) bool) initUnit {
	t.Helper()
	var u initUnit
	var ok bool
	harness.Eventually(t, name+" to become "+what, 20*time.Second, func() bool {
		u, ok = initQuery(t, root, name)
		return cond(u, ok)
	}, func() string { return fmt.Sprintf("last: %+v, found %v", u.Runtime, ok) }, harness.Output("init log", log))
	return u
}

// initStop stops init with SIGTERM and waits for it to exit.
func initStop(t *testing.T, cmd *exec.Cmd, done chan error) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	initWaitExit(t, done, "SIGTERM", 40*time.Second)
}

// initWaitExit waits up to timeout for init to exit, and fails the test unless it exits 0;
// after says what should have ended it. It puts the exit back into done for later readers.
func initWaitExit(t *testing.T, done chan error, after string, timeout time.Duration) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("init exited with %v after %s", err, after)
		}
		done <- err
	case <-time.After(timeout):
		t.Fatalf("init still runs after %s", after)
	}
}

// initCgroup makes a cgroup2 group of the test's own below the cgroup2 mount, named from
// prefix, for init to be forked into (SysProcAttr.CgroupFD = fd), and kills and removes it
// at cleanup. It stops the test (harness.Require) without root or cgroup2. It returns the
// group's path, the mount point and the group's directory fd (closed at cleanup).
func initCgroup(t *testing.T, prefix string) (parent, mount string, fd int) {
	t.Helper()
	harness.NeedRoot(t, "creating cgroups")
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if i := strings.Index(l, " - cgroup2 "); i >= 0 {
				mount = strings.Fields(l[:i])[4]
				break
			}
		}
	}
	if mount == "" {
		harness.Require(t, "no cgroup2 mount")
	}
	parent, err := os.MkdirTemp(mount, prefix)
	if err != nil {
		harness.Require(t, fmt.Sprintf("cannot create a cgroup: %v", err))
	}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(parent, "cgroup.kill"), []byte("1"), 0)
		if !harness.Poll(5*time.Second, func() bool {
			var dirs []string
			_ = filepath.WalkDir(parent, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
			for i := len(dirs) - 1; i >= 0; i-- {
				_ = syscall.Rmdir(dirs[i])
			}
			_, err := os.Stat(parent)
			return os.IsNotExist(err)
		}) {
			t.Errorf("cannot remove test cgroup %s", parent)
		}
	})
	if fd, err = syscall.Open(parent, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return parent, mount, fd
}

// fields splits "k=v k=v" report lines into a map.
func fields(s string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

// TestInitExecEnvironment runs services through the real binary in host mode with User=,
// SupplementaryGroups=, WorkingDirectory=~, Environment=, EnvironmentFile=, RuntimeDirectory=
// and StateDirectory= resolved in the root, and checks what the processes saw, the
// directories' owners and modes, $SERVICE_RESULT/$EXIT_CODE/$EXIT_STATUS in ExecStopPost=,
// and what is removed or kept when the services stop.
func TestInitExecEnvironment(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	initUsers(t, root)
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	harness.WriteFile(t, filepath.Join(root, "etc/svc.env"), "# comment\nFROM_FILE=\"a b\"\nOVERRIDE=file\nCONT=one\\\n two\n", 0o644)
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=env.service exit3.service killed.service oneshot.service\n")
	initWriteUnit(t, root, "env.service", `[Service]
Type=oneshot
RemainAfterExit=yes
User=svc
SupplementaryGroups=more
WorkingDirectory=~
Environment=OVERRIDE=unit "SPACED=x y"
EnvironmentFile=/etc/svc.env
EnvironmentFile=-/etc/missing.env
RuntimeDirectory=envsvc
RuntimeDirectoryMode=0750
StateDirectory=envsvc
ExecStart=/bin/sh -c 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G | tr " " ,) pwd=$(pwd) user=$USER logname=$LOGNAME home=$HOME shell=$SHELL inv=$INVOCATION_ID rt=$RUNTIME_DIRECTORY st=$STATE_DIRECTORY ov=$OVERRIDE" > $STATE_DIRECTORY/report; printf "%%s|%%s|%%s" "$FROM_FILE" "$SPACED" "$CONT" > $STATE_DIRECTORY/values'
`)
	initWriteUnit(t, root, "exit3.service", `[Service]
ExecStart=/bin/sh -c 'exit 3'
ExecStopPost=/bin/sh -c 'echo "result=$SERVICE_RESULT code=$EXIT_CODE status=$EXIT_STATUS" > `+out+`/exit3'
`)
	initWriteUnit(t, root, "killed.service", `[Service]
ExecStart=/bin/sh -c 'kill -USR1 $$$$'
ExecStopPost=/bin/sh -c 'echo "result=$SERVICE_RESULT code=$EXIT_CODE status=$EXIT_STATUS" > `+out+`/killed'
`)
	initWriteUnit(t, root, "oneshot.service", `[Service]
Type=oneshot
ExecStart=/bin/true
ExecStopPost=/bin/sh -c 'echo "result=$SERVICE_RESULT code=$EXIT_CODE status=$EXIT_STATUS" > `+out+`/oneshot'
`)
	cmd, done, log := startHostInit(t, bin, root)

	report := fields(string(initWaitFile(t, filepath.Join(root, "var/lib/envsvc/report"), log)))
	want := map[string]string{
		"uid": "4242", "gid": "4243", "pwd": filepath.Join(root, "home/svc"), "user": "svc", "logname": "svc",
		"home": "/home/svc", "shell": "/bin/sh", "rt": filepath.Join(root, "run/envsvc"),
		"st": filepath.Join(root, "var/lib/envsvc"), "ov": "file",
	}
	for k, v := range want {
		if report[k] != v {
			t.Errorf("service saw %s=%q, want %q", k, report[k], v)
		}
	}
	groups := "," + report["groups"] + ","
	for _, g := range []string{"4243", "4244", "4245"} {
		if !strings.Contains(groups, ","+g+",") {
			t.Errorf("groups %s lack %s", report["groups"], g)
		}
	}
	if len(report["inv"]) != 32 {
		t.Errorf("INVOCATION_ID %q is not 32 hex digits", report["inv"])
	}
	u := initWaitUnit(t, root, "env.service", log, "active", func(u initUnit, ok bool) bool { return ok && u.Runtime.ActiveState == "active" })
	if u.Runtime.InvocationID != "" && u.Runtime.InvocationID != report["inv"] {
		t.Errorf("INVOCATION_ID %s, but the manager reports %s", report["inv"], u.Runtime.InvocationID)
	}
	values, _ := os.ReadFile(filepath.Join(root, "var/lib/envsvc/values"))
	if string(values) != "a b|x y|one two" {
		t.Errorf("EnvironmentFile/Environment values: %q", values)
	}
	for _, d := range []struct {
		p    string
		mode os.FileMode
	}{{"run/envsvc", 0o750}, {"var/lib/envsvc", 0o755}} {
		st, err := os.Stat(filepath.Join(root, d.p))
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Perm() != d.mode || sys.Uid != 4242 || sys.Gid != 4243 {
			t.Errorf("%s: mode %o owner %d:%d, want %o 4242:4243", d.p, st.Mode().Perm(), sys.Uid, sys.Gid, d.mode)
		}
	}
	for name, want := range map[string]string{
		"exit3":   "result=exit-code code=exited status=3",
		"killed":  "result=signal code=killed status=USR1",
		"oneshot": "result=success code=exited status=0",
	} {
		if got := strings.TrimSpace(string(initWaitFile(t, filepath.Join(out, name), log))); got != want {
			t.Errorf("ExecStopPost of %s saw %q, want %q", name, got, want)
		}
	}

	initStop(t, cmd, done)
	if _, err := os.Stat(filepath.Join(root, "run/envsvc")); !os.IsNotExist(err) {
		t.Errorf("RuntimeDirectory still there after stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/envsvc/report")); err != nil {
		t.Errorf("StateDirectory not kept: %v", err)
	}
}

// TestInitCredentials passes credentials from every source — LoadCredential= (absolute path,
// credstore name, a missing name), SetCredential= (as a fallback), ImportCredential= from the
// manager's own $CREDENTIALS_DIRECTORY and from the credstores — to a service running as
// another user, checks names, contents, owners and modes, that the directory goes away at
// stop, and that a missing absolute LoadCredential= fails the start.
func TestInitCredentials(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	initUsers(t, root)
	sysCreds := t.TempDir()
	for name, v := range map[string]string{"imp.a": "SYS-A", "imp.c": "C"} {
		harness.WriteFile(t, filepath.Join(sysCreds, name), v, 0o400)
	}
	harness.WriteFile(t, filepath.Join(root, "run/credstore/imp.a"), "A", 0o400)
	harness.WriteFile(t, filepath.Join(root, "run/credstore/imp.b"), "B", 0o400)
	harness.WriteFile(t, filepath.Join(root, "run/credstore/other"), "X", 0o400)
	harness.WriteFile(t, filepath.Join(root, "etc/credstore/store.cred"), "from-store", 0o400)
	harness.WriteFile(t, filepath.Join(root, "srv/secret"), "secret-file", 0o600)
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=creds.service nocred.service\n")
	initWriteUnit(t, root, "creds.service", `[Service]
Type=oneshot
RemainAfterExit=yes
User=svc
StateDirectory=creds
LoadCredential=file:/srv/secret
LoadCredential=store.cred
LoadCredential=absent
SetCredential=file:not-this
SetCredential=set:hello\nworld
ImportCredential=imp.*
ExecStart=/bin/sh -c 'cd "$CREDENTIALS_DIRECTORY" && for f in *; do printf "%%s=%%s;" "$f" "$(cat $f)"; done > $STATE_DIRECTORY/creds; echo "$CREDENTIALS_DIRECTORY" > $STATE_DIRECTORY/dir'
`)
	initWriteUnit(t, root, "nocred.service", "[Service]\nLoadCredential=x:/srv/nonexistent\nExecStart=/bin/true\n")
	cmd, done, log := startHostInitCmd(t, bin, root, func(c *exec.Cmd) {
		c.Env = append(os.Environ(), "CREDENTIALS_DIRECTORY="+sysCreds)
	})

	got := strings.TrimSpace(string(initWaitFile(t, filepath.Join(root, "var/lib/creds/dir"), log)))
	dir := filepath.Join(root, "run/credentials/creds.service")
	if got != dir {
		t.Errorf("CREDENTIALS_DIRECTORY=%q, want %q", got, dir)
	}
	b, _ := os.ReadFile(filepath.Join(root, "var/lib/creds/creds"))
	if want := "file=secret-file;imp.a=SYS-A;imp.b=B;imp.c=C;set=hello\nworld;store.cred=from-store;"; string(b) != want {
		t.Errorf("credentials seen by the service:\n%q\nwant\n%q", b, want)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); st.Mode().Perm() != 0o500 || sys.Uid != 4242 {
		t.Errorf("credentials directory: mode %o uid %d, want 500 4242", st.Mode().Perm(), sys.Uid)
	}
	st, err = os.Stat(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); st.Mode().Perm() != 0o400 || sys.Uid != 4242 {
		t.Errorf("credential file: mode %o uid %d, want 400 4242", st.Mode().Perm(), sys.Uid)
	}
	initWaitUnit(t, root, "nocred.service", log, "failed", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.ActiveState == "failed"
	})
	initStop(t, cmd, done)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("credentials directory still there after stop: %v", err)
	}
}

// TestInitAcceptSocket checks Accept=yes: one instance per connection named as upstream names
// them (NR-COOKIE-PID[_PIDFDID]-UID for AF_UNIX, NR-COOKIE-LOCAL-PEER for TCP), the connection
// as fd 3 with LISTEN_FDS=1, LISTEN_FDNAMES=connection and LISTEN_PID; SocketMode=, a working
// Symlinks= link, and instances forgotten once they end.
func TestInitAcceptSocket(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	svc := `[Service]
ExecStart=/bin/sh -c 'echo "inst=%i fds=$LISTEN_FDS names=$LISTEN_FDNAMES pid=$$$$ lpid=$LISTEN_PID" >&3'
`
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=acc.socket tcp.socket inetd.socket\n")
	// inetd style: the connection is also stdin, and stdout and stderr inherit it.
	initWriteUnit(t, root, "inetd.socket", "[Socket]\nListenStream=/run/inetd.sock\nAccept=yes\n")
	initWriteUnit(t, root, "inetd@.service", "[Service]\nStandardInput=socket\nExecStart=/bin/sh -c 'read line; echo \"got $line\"; echo \"err too\" >&2'\n")
	initWriteUnit(t, root, "acc.socket", "[Socket]\nListenStream=/run/acc.sock\nAccept=yes\nSocketMode=0600\nSymlinks=/run/links/acc-link.sock\n")
	initWriteUnit(t, root, "acc@.service", svc)
	initWriteUnit(t, root, "tcp.socket", fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", port))
	initWriteUnit(t, root, "tcp@.service", svc)
	_, _, log := startHostInit(t, bin, root)

	ask := func(network, addr string) (map[string]string, net.Conn) {
		t.Helper()
		c := initConnect(t, network, addr, log)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(15 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("read from %s: %v; init log:\n%s", addr, err, log.String())
		}
		return fields(line), c
	}
	sock := filepath.Join(root, "run/acc.sock")
	first, _ := ask("unix", sock)
	second, _ := ask("unix", filepath.Join(root, "run/links/acc-link.sock"))
	me := os.Getpid()
	for i, f := range []map[string]string{first, second} {
		re := regexp.MustCompile(fmt.Sprintf(`^%d-[0-9]+-%d(_[0-9]+)?-%d$`, i, me, os.Getuid()))
		if !re.MatchString(f["inst"]) {
			t.Errorf("connection %d: instance %q does not match %s", i, f["inst"], re)
		}
		if f["fds"] != "1" || f["names"] != "connection" || f["pid"] == "" || f["pid"] != f["lpid"] {
			t.Errorf("connection %d: service saw %v", i, f)
		}
	}
	if first["inst"] == second["inst"] {
		t.Errorf("two connections, one instance name %q", first["inst"])
	}
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("SocketMode=0600: %v %v", st.Mode(), err)
	}
	tcp, c := ask("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	local := c.LocalAddr().(*net.TCPAddr)
	if want := fmt.Sprintf(`^0-[0-9]+-127\.0\.0\.1:%d-127\.0\.0\.1:%d$`, port, local.Port); !regexp.MustCompile(want).MatchString(tcp["inst"]) {
		t.Errorf("TCP instance %q does not match %s", tcp["inst"], want)
	}
	ic, err := net.Dial("unix", filepath.Join(root, "run/inetd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	_ = ic.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := ic.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(ic)
	ic.Close()
	if string(reply) != "got hello\nerr too\n" {
		t.Errorf("StandardInput=socket service answered %q (%v)", reply, err)
	}
	// Finished instances are dropped (a query loads the name again from the template, as
	// upstream does, as an inactive unit); the socket keeps listening.
	initWaitUnit(t, root, "acc@"+first["inst"]+".service", log, "gone", func(u initUnit, ok bool) bool {
		return !ok || u.Runtime.ActiveState == "inactive" && u.Runtime.Service != nil && u.Runtime.Service.MainPID == nil
	})
	u := initWaitUnit(t, root, "acc.socket", log, "listening", func(u initUnit, ok bool) bool { return ok })
	if u.Runtime.ActiveState != "active" || u.Runtime.SubState != "listening" {
		t.Errorf("acc.socket is %s/%s", u.Runtime.ActiveState, u.Runtime.SubState)
	}
}

// TestInitListenOrder checks the fds a service gets from two socket units with several
// Listen*= lines: sockets by name, each one's fds in file order, LISTEN_FDNAMES to match.
func TestInitListenOrder(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	out := filepath.Join(root, "out")
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=a.socket b.socket\n")
	initWriteUnit(t, root, "a.socket", "[Socket]\nListenDatagram=/run/a.dgram\nListenStream=/run/a.sock\nFileDescriptorName=first\nService=ab.service\n")
	initWriteUnit(t, root, "b.socket", "[Socket]\nListenStream=/run/b.sock\nFileDescriptorName=second\nService=ab.service\n")
	initWriteUnit(t, root, "ab.service", `[Service]
ExecStart=/bin/sh -c 'echo "fds=$LISTEN_FDS names=$LISTEN_FDNAMES fd3=$(readlink /proc/self/fd/3) fd4=$(readlink /proc/self/fd/4) fd5=$(readlink /proc/self/fd/5)" > `+out+`; exec sleep 600'
`)
	_, _, log := startHostInit(t, bin, root)
	initConnect(t, "unix", filepath.Join(root, "run/b.sock"), log).Close()
	got := fields(string(initWaitFile(t, out, log)))
	if got["fds"] != "3" || got["names"] != "first:first:second" {
		t.Fatalf("service saw %v, want 3 fds named first:first:second", got)
	}
	// /proc/net/unix maps the socket inodes to their type (1 stream, 2 datagram) and path.
	table, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	byInode := map[string]string{}
	for _, l := range strings.Split(string(table), "\n") {
		f := strings.Fields(l)
		if len(f) >= 8 {
			byInode[f[6]] = f[4] + " " + f[7]
		}
	}
	for fd, want := range map[string]string{
		"fd3": "0002 " + filepath.Join(root, "run/a.dgram"),
		"fd4": "0001 " + filepath.Join(root, "run/a.sock"),
		"fd5": "0001 " + filepath.Join(root, "run/b.sock"),
	} {
		inode := strings.TrimSuffix(strings.TrimPrefix(got[fd], "socket:["), "]")
		if byInode[inode] != want {
			t.Errorf("%s is %q (inode %s), want %q", fd, byInode[inode], inode, want)
		}
	}
}

// TestInitWatchdog runs the test service stead-testsvc under WatchdogSec=: it sees
// WATCHDOG_USEC with WATCHDOG_PID = its pid; one that keeps pinging stays up; one that stops
// pinging is aborted with result watchdog and restarted (Restart=on-watchdog); one sending
// WATCHDOG=trigger fails at once with result watchdog.
func TestInitWatchdog(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	svc := harness.Binary(t, "integration/cmd/stead-testsvc")
	root := initRoot(t)
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=wdok.service wdmiss.service wdtrig.service\n")
	initWriteUnit(t, root, "wdok.service", fmt.Sprintf("[Service]\nType=notify\nWatchdogSec=600ms\nExecStart=%s watchdog -report %s/ok\n", svc, out))
	initWriteUnit(t, root, "wdmiss.service", fmt.Sprintf("[Service]\nType=notify\nWatchdogSec=600ms\nRestart=on-watchdog\nRestartSec=100ms\nStartLimitBurst=50\nExecStart=%s watchdog -report %s/miss -pings 2\n", svc, out))
	initWriteUnit(t, root, "wdtrig.service", fmt.Sprintf("[Service]\nType=notify\nWatchdogSec=1min\nExecStart=%s watchdog -report %s/trig -pings 0 -trigger\n", svc, out))
	cmd, done, log := startHostInit(t, bin, root)

	rep := fields(string(initWaitFile(t, filepath.Join(out, "ok"), log)))
	if rep["watchdog"] != "600ms" || rep["err"] != "<nil>" {
		t.Errorf("watchdog service saw %v: want WATCHDOG_USEC=600000 and WATCHDOG_PID its own pid", rep)
	}
	initWaitUnit(t, root, "wdmiss.service", log, "restarted by the watchdog", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.Service != nil && u.Runtime.Service.NRestarts >= 2
	})
	initWaitUnit(t, root, "wdtrig.service", log, "failed with result watchdog", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.ActiveState == "failed" && u.Runtime.Service != nil && u.Runtime.Service.Result == "watchdog"
	})
	// The pinging one survived several watchdog periods of the others.
	ok := initWaitUnit(t, root, "wdok.service", log, "active", func(u initUnit, ok bool) bool { return ok })
	if ok.Runtime.ActiveState != "active" || ok.Runtime.Service == nil || ok.Runtime.Service.NRestarts != 0 {
		t.Errorf("pinging service: %+v %+v", ok.Runtime, ok.Runtime.Service)
	}
	if !strings.Contains(log.String(), "watchdog timeout") {
		t.Errorf("no watchdog timeout logged")
	}
	initStop(t, cmd, done)
}

// TestInitConditions checks ConditionVirtualization=, ConditionSecurity= and
// ConditionKernelCommandLine= against a fake root: QEMU DMI strings, a kernel command line
// with systemd.tpm2_measured_os=1 and a TPM, no SELinux.
func TestInitConditions(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	harness.WriteFile(t, filepath.Join(root, "sys/class/dmi/id/sys_vendor"), "QEMU\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "sys/class/dmi/id/product_name"), "Standard PC (Q35 + ICH9, 2009)\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "proc/cmdline"), "console=ttyS0 systemd.tpm2_measured_os=1 quiet\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "sys/class/tpmrm/tpmrm0/dev"), "253:65536\n", 0o644) // measured-os needs a TPM
	conds := map[string]string{
		"qemu":       "ConditionVirtualization=qemu",
		"vm":         "ConditionVirtualization=vm",
		"notcont":    "ConditionVirtualization=!container",
		"measured":   "ConditionSecurity=measured-os",
		"cmdline":    "ConditionKernelCommandLine=systemd.tpm2_measured_os=1",
		"cmdlinekey": "ConditionKernelCommandLine=quiet",
		"notselinux": "ConditionSecurity=!selinux",
	}
	skipped := map[string]string{
		"kvm":       "ConditionVirtualization=kvm",
		"cont":      "ConditionVirtualization=container",
		"novirt":    "ConditionVirtualization=no",
		"selinux":   "ConditionSecurity=selinux",
		"secboot":   "ConditionSecurity=uefi-secureboot",
		"cmdlineno": "ConditionKernelCommandLine=systemd.tpm2_measured_os=0",
	}
	var wants []string
	for _, set := range []map[string]string{conds, skipped} {
		for name, c := range set {
			initWriteUnit(t, root, "c-"+name+".service", fmt.Sprintf("[Unit]\n%s\n[Service]\nType=oneshot\nExecStart=/bin/touch %s/%s\n", c, out, name))
			wants = append(wants, "c-"+name+".service")
		}
	}
	initWriteUnit(t, root, "last.service", fmt.Sprintf("[Unit]\nAfter=%s\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo done > %s/last'\n", strings.Join(wants, " "), out))
	initWriteUnit(t, root, "default.target", "[Unit]\nWants="+strings.Join(wants, " ")+" last.service\n")
	_, _, log := startHostInit(t, bin, root)
	initWaitFile(t, filepath.Join(out, "last"), log)
	for name, c := range conds {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s: the unit did not run", c)
		}
	}
	for name, c := range skipped {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Errorf("%s: the unit ran", c)
		}
	}
}

// TestInitCgroups runs init in a delegated cgroup2 group of its own (made by the test, the
// process forked into it) so that host mode uses cgroups: each service's processes land in
// system.slice/UNIT from the fork on, io.systemd.Unit reports the group, KillMode=control-group
// ends every process of it, processes a main process leaves behind are killed and the group
// removed, and KillMode=process leaves them alone.
func TestInitCgroups(t *testing.T) {
	parent, mount, cgfd := initCgroup(t, "stead-init-test-")

	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=cg.service leftover.service proc.service\n")
	initWriteUnit(t, root, "cg.service", "[Service]\nExecStart=/bin/sh -c 'sleep 600 & sleep 600 & exec sleep 600'\n")
	initWriteUnit(t, root, "leftover.service", "[Service]\nExecStart=/bin/sh -c 'sleep 600 & echo left a child'\n")
	initWriteUnit(t, root, "proc.service", "[Service]\nKillMode=process\nExecStart=/bin/sh -c 'sleep 600 & exec sleep 600'\n")
	cmd, done, log := startHostInitCmd(t, bin, root, func(c *exec.Cmd) {
		c.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cgfd}
	})
	rel := strings.TrimPrefix(parent, mount)
	slice := filepath.Join(parent, "system.slice")
	procs := func(unit string) []string {
		b, _ := os.ReadFile(filepath.Join(slice, unit, "cgroup.procs"))
		return strings.Fields(string(b))
	}
	u := initWaitUnit(t, root, "cg.service", log, "active with three processes", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.ActiveState == "active" && len(procs("cg.service")) == 3
	})
	if u.Runtime.CGroup == nil || u.Runtime.CGroup.Path != rel+"/system.slice/cg.service" {
		t.Errorf("io.systemd.Unit reports cgroup %+v, want %s/system.slice/cg.service", u.Runtime.CGroup, rel)
	}
	if pid := initMainPID(u); pid == 0 {
		t.Errorf("no main pid reported: %+v", u.Runtime.Service)
	} else {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if !strings.Contains(string(b), "0::"+rel+"/system.slice/cg.service\n") {
			t.Errorf("main process %d is in %q", pid, b)
		}
	}
	cgPIDs := procs("cg.service")
	initWaitUnit(t, root, "leftover.service", log, "inactive", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.ActiveState == "inactive"
	})
	if _, err := os.Stat(filepath.Join(slice, "leftover.service")); !os.IsNotExist(err) {
		t.Errorf("leftover.service's cgroup was not drained and removed: %v", err)
	}
	initWaitUnit(t, root, "proc.service", log, "active with two processes", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.ActiveState == "active" && len(procs("proc.service")) == 2
	})
	procPIDs := procs("proc.service")

	initStop(t, cmd, done)
	alive := func(pid string) bool {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		return err == nil && !strings.Contains(string(b), ") Z ")
	}
	for _, pid := range cgPIDs {
		if alive(pid) {
			t.Errorf("KillMode=control-group: process %s of cg.service survived the stop", pid)
		}
	}
	if _, err := os.Stat(filepath.Join(slice, "cg.service")); !os.IsNotExist(err) {
		t.Errorf("cg.service's cgroup not removed: %v", err)
	}
	survivors := 0
	for _, pid := range procPIDs {
		if alive(pid) {
			survivors++
		}
	}
	if survivors != 1 {
		t.Errorf("KillMode=process: %d of proc.service's processes survived, want the one that is not the main process", survivors)
	}
}

// TestInitKillSignalAndStopTimeout stops init with a service that wants KillSignal=SIGUSR2 and
// one that ignores SIGTERM: the first sees SIGUSR2, the second is killed after TimeoutStopSec=
// and its ExecStopPost= sees SERVICE_RESULT=timeout. Without cgroups (init runs in the host's
// root cgroup here), a process a main process left behind in its process group is killed too.
func TestInitKillSignalAndStopTimeout(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=usr2.service stuck.service leftover.service\n")
	initWriteUnit(t, root, "leftover.service", "[Service]\nExecStart=/bin/sh -c 'sleep 600 & echo $! > "+out+"/leftover'\n")
	initWriteUnit(t, root, "usr2.service", `[Service]
KillSignal=SIGUSR2
ExecStart=/bin/sh -c 'trap "echo got USR2 > `+out+`/usr2; exit 0" USR2; echo up > `+out+`/usr2-up; while :; do sleep 0.1; done'
`)
	initWriteUnit(t, root, "stuck.service", `[Service]
TimeoutStopSec=300ms
ExecStart=/bin/sh -c 'trap "" TERM; echo up > `+out+`/stuck-up; while :; do sleep 0.1; done'
ExecStopPost=/bin/sh -c 'echo "result=$SERVICE_RESULT" > `+out+`/stuck'
`)
	cmd, done, log := startHostInit(t, bin, root)
	initWaitFile(t, filepath.Join(out, "usr2-up"), log)
	initWaitFile(t, filepath.Join(out, "stuck-up"), log)
	left := strings.TrimSpace(string(initWaitFile(t, filepath.Join(out, "leftover"), log)))
	harness.Eventually(t, "process "+left+" left behind by leftover.service to end", 15*time.Second, func() bool {
		b, err := os.ReadFile("/proc/" + left + "/stat")
		return err != nil || strings.Contains(string(b), ") Z ")
	}, harness.Output("init log", log))
	initStop(t, cmd, done)
	if b, _ := os.ReadFile(filepath.Join(out, "usr2")); string(b) != "got USR2\n" {
		t.Errorf("KillSignal=SIGUSR2: the service wrote %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "stuck")); string(b) != "result=timeout\n" {
		t.Errorf("TimeoutStopSec=: ExecStopPost= saw %q, want result=timeout; log:\n%s", b, log.String())
	}
}
