//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/varlinkd"
)

// startHostInit runs init in host mode over root; the cleanup stops it (SIGTERM, then SIGKILL)
// and shows its log when the test failed. done delivers its exit once; a test that takes it
// must put it back for the cleanup.
func startHostInit(t *testing.T, bin, root string) (*exec.Cmd, chan error, *harness.SyncBuffer) {
	t.Helper()
	log := &harness.SyncBuffer{}
	cmd := exec.Command(bin, "--host", "--root="+root)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("init log:\n%s", log.String())
		}
	})
	return cmd, done, log
}

func initWriteUnit(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, "etc/systemd/system", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func initWaitFile(t *testing.T, p string, log *harness.SyncBuffer) []byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(p)
		if err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear; init log:\n%s", p, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
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

	sock := filepath.Join(root, "run/act.sock")
	var c net.Conn
	for deadline := time.Now().Add(15 * time.Second); ; {
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket never appeared: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
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

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	vc, err := varlinkd.Dial(ctx, "unix:"+filepath.Join(root, "run/systemd/io.systemd.Manager"))
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
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

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("init exited with %v", err)
		}
		done <- err // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("init did not stop on SIGTERM")
	}
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
	startHostInit(t, bin, host)
	addr := "unix:" + filepath.Join(inside, "run/systemd/io.systemd.Manager")
	for deadline := time.Now().Add(15 * time.Second); ; {
		if _, err := os.Stat(filepath.Join(host, "run/systemd/io.systemd.Manager")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket never appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	for deadline := time.Now().Add(10 * time.Second); ; {
		list = call("call", "--more", addr, "io.systemd.Unit.List", "{}")
		if strings.Contains(list, `"ID":"x.service"`) && strings.Contains(list, `"SubState":"exited"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("List --more: %s", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(list, `"ID":"default.target"`) {
		t.Errorf("List --more lacks default.target: %s", list)
	}
	_, errOut, code := up.Run(t, "varlinkctl", "call", addr, "io.systemd.Unit.List", `{"name":"nope.service"}`)
	if code == 0 || !strings.Contains(errOut, "io.systemd.Unit.NoSuchUnit") {
		t.Errorf("List nope.service: exit %d, %s", code, errOut)
	}
	for _, iface := range []string{"io.systemd.Manager", "io.systemd.Unit"} {
		idl := call("introspect", addr, iface)
		p := filepath.Join(host, iface+".varlink")
		if err := os.WriteFile(p, []byte(idl), 0o644); err != nil {
			t.Fatal(err)
		}
		call("validate-idl", filepath.Join(inside, iface+".varlink"))
	}
}
