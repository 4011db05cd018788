//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
)

// TestVMBootAgent boots busybox init with the agent, DMI strings and a TPM, and exercises
// the agent's operations on one VM.
func TestVMBootAgent(t *testing.T) {
	disk := filepath.Join(t.TempDir(), "disk.img")
	img := make([]byte, 1<<20)
	copy(img, "stead disk marker")
	harness.WriteFile(t, disk, string(img), 0o644)
	hostFile := filepath.Join(t.TempDir(), "script")
	harness.WriteFile(t, hostFile, "#!/bin/sh\necho script ran\n", 0o755)
	m := vm.Boot(t, vm.Options{
		SMBIOS: []string{
			vm.SMBIOS(0, "vendor=AmazonEC2"),
			vm.SMBIOS(1, "manufacturer=AmazonEC2", "product=m5.large", "serial=ec2,with comma"),
		},
		TPM:   true,
		Disk:  disk,
		Files: map[string]vm.File{"/usr/local/bin/script": {Source: hostFile}},
		Dirs:  []string{"/var/lib/empty"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("Uname", func(t *testing.T) {
		if got := m.MustRun(t, "uname", "-r"); !strings.HasSuffix(got, "-cloud-amd64") {
			t.Errorf("uname -r = %q", got)
		}
	})
	t.Run("DMI", func(t *testing.T) {
		for file, want := range map[string]string{
			"sys_vendor":   "AmazonEC2",
			"bios_vendor":  "AmazonEC2",
			"product_name": "m5.large",
		} {
			if got := m.MustRun(t, "cat", "/sys/class/dmi/id/"+file); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
		b, err := m.GetFile(ctx, "/sys/class/dmi/id/product_serial")
		if err != nil || strings.TrimSpace(string(b)) != "ec2,with comma" {
			t.Errorf("product_serial = %q, %v", b, err)
		}
	})
	t.Run("ExitCode", func(t *testing.T) {
		r, err := m.Run(ctx, "sh", "-c", "echo out; echo err >&2; exit 3")
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode != 3 || string(r.Stdout) != "out\n" || string(r.Stderr) != "err\n" {
			t.Errorf("got %+v", r)
		}
		if _, err := m.Run(ctx, "/no/such/binary"); err == nil {
			t.Error("missing binary: no error")
		}
	})
	t.Run("StdinEnv", func(t *testing.T) {
		r, err := m.Exec(ctx, vm.Command{Argv: []string{"sh", "-c", "cat; echo $FOO; pwd"}, Stdin: []byte("in\n"), Env: []string{"FOO=bar"}, Dir: "/proc"})
		if err != nil || string(r.Stdout) != "in\nbar\n/proc\n" {
			t.Errorf("got %q, %v", r.Stdout, err)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		start := time.Now()
		r, err := m.Exec(ctx, vm.Command{Argv: []string{"sh", "-c", "sleep 60 & sleep 60"}, Timeout: time.Second})
		if err != nil || !r.TimedOut || r.Signal != "SIGKILL" || time.Since(start) > 30*time.Second {
			t.Errorf("got %+v, %v after %v", r, err, time.Since(start))
		}
		// ctx cancel kills the command too; the agent keeps serving.
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		defer ccancel()
		if _, err := m.Run(cctx, "sleep", "60"); err == nil {
			t.Error("cancelled run: no error")
		}
		if got := m.MustRun(t, "sh", "-c", "grep -lx sleep /proc/[0-9]*/comm || echo none"); got != "none" {
			t.Errorf("sleep still running: %q", got)
		}
	})
	t.Run("Files", func(t *testing.T) {
		data := make([]byte, 3<<20)
		rand.Read(data)
		if err := m.PutFile(ctx, "/tmp/x/y/blob", data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := m.GetFile(ctx, "/tmp/x/y/blob")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("roundtrip: %d bytes, %v", len(got), err)
		}
		if mode := m.MustRun(t, "stat", "-c", "%a", "/tmp/x/y/blob"); mode != "600" {
			t.Errorf("mode %s", mode)
		}
		if sum := m.MustRun(t, "sh", "-c", "sha256sum /tmp/x/y/blob | cut -d' ' -f1"); len(sum) != 64 {
			t.Errorf("sha256sum: %q", sum)
		}
		if _, err := m.GetFile(ctx, "/no/such/file"); err == nil {
			t.Error("missing file: no error")
		}
		if err := m.PutFile(ctx, "/tmp/empty", nil, 0); err != nil {
			t.Error(err)
		} else if b, err := m.GetFile(ctx, "/tmp/empty"); err != nil || len(b) != 0 {
			t.Errorf("empty file: %q %v", b, err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		errs := make(chan error, 8)
		for i := range 8 {
			go func() {
				r, err := m.Run(ctx, "sh", "-c", fmt.Sprintf("sleep 0.$((RANDOM %% 5)); echo %d", i))
				if err == nil && strings.TrimSpace(string(r.Stdout)) != fmt.Sprint(i) {
					err = fmt.Errorf("run %d got %q", i, r.Stdout)
				}
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("TPM", func(t *testing.T) {
		if got := m.MustRun(t, "cat", "/sys/class/tpm/tpm0/tpm_version_major"); got != "2" {
			t.Errorf("tpm_version_major = %q", got)
		}
		m.MustRun(t, "test", "-c", "/dev/tpmrm0")
	})
	t.Run("Image", func(t *testing.T) {
		if got := m.MustRun(t, "script"); got != "script ran" {
			t.Errorf("script: %q", got)
		}
		m.MustRun(t, "test", "-d", "/var/lib/empty")
		if got := m.MustRun(t, "head", "-c", "17", "/dev/vda"); got != "stead disk marker" {
			t.Errorf("/dev/vda starts with %q", got)
		}
		if got := m.MustRun(t, "sh", "-c", "grep -c cgroup2 /proc/mounts; cat /sys/fs/cgroup/cgroup.controllers"); !strings.Contains(got, "memory") {
			t.Errorf("cgroup2: %q", got)
		}
	})
	t.Run("Poweroff", func(t *testing.T) {
		if err := m.Poweroff(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-m.Done():
		default:
			t.Fatal("qemu still running after Poweroff")
		}
		if _, err := m.Run(ctx, "true"); err == nil {
			t.Error("Run after poweroff: no error")
		}
	})
	t.Logf("boot: %v to the agent (guest uptime %v)", m.BootTime(), m.GuestUptime())
}

// TestVMBootNetwork: the guest fetches from a fake metadata server on the host's loopback
// through guestfwd, on a restricted user network.
func TestVMBootNetwork(t *testing.T) {
	const body = "hello from the fake cloud\n"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/x" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	m := vm.Boot(t, vm.Options{Net: &vm.Net{GuestFwd: map[int]string{80: ln.Addr().String()}}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m.MustRun(t, "udhcpc", "-i", "eth0", "-n", "-q", "-t", "10", "-T", "1")
	if addr := m.MustRun(t, "sh", "-c", "ip -4 -o addr show dev eth0"); !strings.Contains(addr, "169.254.169.15/24") {
		t.Errorf("eth0: %s", addr)
	}
	// (busybox 1.35's wget -T segfaults: bound it with the agent's timeout instead.)
	r, err := m.Exec(ctx, vm.Command{Argv: []string{"wget", "-q", "-O", "-", "http://" + vm.MetadataIP + "/x"}, Timeout: 30 * time.Second})
	if err != nil || r.ExitCode != 0 || string(r.Stdout) != body {
		t.Fatalf("wget: %q %v %v", r.Stdout, r, err)
	}
	// restrict=on: nothing but the forward is reachable.
	for _, url := range []string{"http://" + vm.NetHost + "/", "http://" + vm.MetadataIP + ":81/"} {
		r, err = m.Exec(ctx, vm.Command{Argv: []string{"wget", "-q", "-O", "-", url}, Timeout: 15 * time.Second})
		if err != nil || r.ExitCode == 0 || r.TimedOut {
			t.Errorf("%s: want a refused connection, got %v %v", url, r, err)
		}
	}
}

// TestVMBootCustomInit boots a Go program as PID 1 (/init); the harness's wrapper starts the
// agent before handing PID 1 over.
func TestVMBootCustomInit(t *testing.T) {
	init := harness.Binary(t, "integration/vm/testinit")
	m := vm.Boot(t, vm.Options{
		Init:  init,
		Files: map[string]vm.File{"/etc/testinit/greeting": {Data: []byte("hello, PID 1")}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, "testinit: hello, PID 1"); err != nil {
		t.Fatal(err)
	}
	if got := m.MustRun(t, "cat", "/proc/1/cmdline"); got != "/init\x00" {
		t.Errorf("PID 1 is %q", got)
	}
	// The test init powers off when it receives SIGTERM: send it once this command returned.
	m.MustRun(t, "sh", "-c", "(sleep 0.5; kill -TERM 1) >/dev/null 2>&1 &")
	if err := m.Wait(ctx); err != nil {
		t.Errorf("qemu: %v", err)
	}
	if !strings.Contains(m.Console(), "testinit: powering off") {
		t.Error("no shutdown message on the console")
	}
}

// TestVMBootInitStartsAgent: the init under test starts the agent itself (vm.AgentByInit),
// with nothing mounted for it.
func TestVMBootInitStartsAgent(t *testing.T) {
	m := vm.Boot(t, vm.Options{
		Init:  harness.Binary(t, "integration/vm/testinit"),
		Agent: vm.AgentByInit,
		Files: map[string]vm.File{
			"/etc/testinit/greeting":    {Data: []byte("agent by init")},
			"/etc/testinit/start-agent": {},
		},
	})
	if got := m.MustRun(t, "cat", "/proc/1/cmdline"); got != "/init\x00" {
		t.Errorf("PID 1 is %q", got)
	}
	if got := m.MustRun(t, "sh", "-c", "cat /proc/$PPID/cmdline"); got != vm.AgentPath+"\x00" {
		t.Errorf("parent of the command: %q", got)
	}
	for _, dir := range []string{"/proc", "/sys", "/dev"} { // mounted by the agent
		m.MustRun(t, "grep", "-q", "^[^ ]* "+dir+" ", "/proc/mounts")
	}
	if err := m.Poweroff(); err != nil {
		t.Error(err)
	}
}

// TestVMBootNoAgent: without an agent the harness only runs qemu; the console and Stop remain.
func TestVMBootNoAgent(t *testing.T) {
	m := vm.Boot(t, vm.Options{
		Init:  harness.Binary(t, "integration/vm/testinit"),
		Agent: vm.AgentNone,
		Files: map[string]vm.File{"/etc/testinit/greeting": {Data: []byte("no agent")}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, "testinit: no agent (pid 1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run(ctx, "true"); err == nil {
		t.Error("Run without an agent: no error")
	}
	m.Stop()
	select {
	case <-m.Done():
	default:
		t.Error("qemu still running after Stop")
	}
}
