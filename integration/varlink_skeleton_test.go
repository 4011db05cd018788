//go:build integration

package integration

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/netns"
)

// The TestVarlinkSkeleton… tests hold each daemon to lib/daemon's contract (docs/daemon.md)
// from outside: under a NOTIFY_SOCKET of the test's, READY=1 exactly once; upstream's
// varlinkctl raises the log level with io.systemd.service.SetLogLevel and a debug line
// follows; io.systemd.service.Reload is RELOADING=1 with MONOTONIC_USEC, then READY=1;
// SIGTERM brings STOPPING=1 and a clean exit; a socket that cannot be made is a failure
// (non-zero exit) without READY=1.

// skelNotify is a NOTIFY_SOCKET that records the datagrams sent to it.
type skelNotify struct {
	path string
	conn *net.UnixConn
	done chan struct{}

	mu   sync.Mutex
	msgs []string
}

func newSkelNotify(t *testing.T) *skelNotify {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "skel-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &skelNotify{path: filepath.Join(dir, "notify"), done: make(chan struct{})}
	n.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(n.done)
		buf := make([]byte, 4096)
		for {
			k, err := n.conn.Read(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil {
				n.mu.Lock()
				n.msgs = append(n.msgs, string(buf[:k]))
				n.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { n.conn.Close(); <-n.done })
	return n
}

// env is the environment for a daemon that reports to n: ours, with NOTIFY_SOCKET replaced
// and nothing that would change the daemon's log format or level.
func (n *skelNotify) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "SYSTEMD_LOG_LEVEL", "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "NOTIFY_SOCKET="+n.path)
}

func (n *skelNotify) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// count is how many messages carry assignment as one of their lines.
func (n *skelNotify) count(assignment string) int {
	c := 0
	for _, m := range n.all() {
		if skelHas(m, assignment) {
			c++
		}
	}
	return c
}

func skelHas(msg, assignment string) bool {
	for _, l := range strings.Split(msg, "\n") {
		if l == assignment {
			return true
		}
	}
	return false
}

// wait waits up to 20 s until want messages carry assignment.
func (n *skelNotify) wait(t *testing.T, d *harness.Daemon, assignment string, want int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); n.count(assignment) < want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d× %s after 20 s, want %d; messages %q\noutput:\n%s", n.count(assignment), assignment, want, n.all(), d.Out.String())
		}
	}
}

// skelDaemon is one daemon under test: how to start it over a root, and where its socket is.
type skelDaemon struct {
	socket  string                          // under the root
	command func(root string) *exec.Cmd     // the daemon over root
	prepare func(t *testing.T, root string) // files the daemon needs under root
}

// skelCheck runs the contract against sd, its root inside the upstream tree so that the
// chrooted varlinkctl reaches the socket.
func skelCheck(t *testing.T, sd skelDaemon) {
	up := harness.NeedUpstream(t)
	host, inside := up.Stage(t)
	root := filepath.Join(host, "root")
	if sd.prepare != nil {
		sd.prepare(t, root)
	}
	n := newSkelNotify(t)
	cmd := sd.command(root)
	cmd.Env = n.env()
	d := harness.StartDaemon(t, cmd, harness.StopGrace(20*time.Second))
	addr := "unix:" + filepath.Join(inside, "root", sd.socket)
	varlinkctl := func(method, params string) {
		t.Helper()
		out, errOut, code := up.Run(t, "varlinkctl", "call", addr, method, params)
		if code != 0 {
			t.Fatalf("varlinkctl call %s %s: exit %d\n%s%s\noutput:\n%s", method, params, code, out, errOut, d.Out.String())
		}
	}

	n.wait(t, d, "READY=1", 1)
	time.Sleep(300 * time.Millisecond)
	if c := n.count("READY=1"); c != 1 {
		t.Errorf("READY=1 sent %d× at start-up, want once: %q", c, n.all())
	}

	// A reload at the default level logs no debug line; after SetLogLevel 7 one does.
	varlinkctl("io.systemd.service.Reload", "{}")
	n.wait(t, d, "READY=1", 2)
	if strings.Contains(d.Out.String(), "DEBUG") {
		t.Errorf("debug output before SetLogLevel:\n%s", d.Out.String())
	}
	varlinkctl("io.systemd.service.SetLogLevel", `{"level":7}`)
	varlinkctl("io.systemd.service.Reload", "{}")
	n.wait(t, d, "READY=1", 3)
	if !strings.Contains(d.Out.String(), "DEBUG reloading") {
		t.Errorf("no debug line after SetLogLevel 7:\n%s", d.Out.String())
	}
	skelCheckReloads(t, n.all(), 2)

	d.StopWith(syscall.SIGTERM)
	if err := d.Err(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, d.Out.String())
	}
	n.wait(t, d, "STOPPING=1", 1)
	if c := n.count("READY=1"); c != 3 {
		t.Errorf("READY=1 sent %d×, want 3 (start-up and two reloads): %q", c, n.all())
	}
}

// skelCheckReloads checks that msgs hold reloads RELOADING=1 messages, each with a
// MONOTONIC_USEC and followed by READY=1.
func skelCheckReloads(t *testing.T, msgs []string, reloads int) {
	t.Helper()
	seen := 0
	for i, m := range msgs {
		if !skelHas(m, "RELOADING=1") {
			continue
		}
		seen++
		usec := ""
		for _, l := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(l, "MONOTONIC_USEC="); ok {
				usec = v
			}
		}
		if v, err := strconv.ParseUint(usec, 10, 64); err != nil || v == 0 {
			t.Errorf("RELOADING=1 without a MONOTONIC_USEC: %q", m)
		}
		if i+1 >= len(msgs) || !skelHas(msgs[i+1], "READY=1") {
			t.Errorf("RELOADING=1 not followed by READY=1: %q", msgs)
		}
	}
	if seen != reloads {
		t.Errorf("%d× RELOADING=1, want %d: %q", seen, reloads, msgs)
	}
}

// skelCheckSocketFailure starts sd over a root where its socket's path is taken by a
// directory: the daemon must fail (non-zero exit) without READY=1.
func skelCheckSocketFailure(t *testing.T, sd skelDaemon) {
	root := t.TempDir()
	if sd.prepare != nil {
		sd.prepare(t, root)
	}
	if err := os.MkdirAll(filepath.Join(root, sd.socket, "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := newSkelNotify(t)
	cmd := sd.command(root)
	cmd.Env = n.env()
	d := harness.StartDaemon(t, cmd, harness.StopGrace(20*time.Second))
	select {
	case <-d.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s with its socket path taken:\n%s", d.Out.String())
	}
	if err := d.Err(); err == nil {
		t.Errorf("exit 0 with its socket path taken:\n%s", d.Out.String())
	}
	time.Sleep(100 * time.Millisecond)
	if c := n.count("READY=1"); c != 0 {
		t.Errorf("READY=1 sent %d× without a socket: %q", c, n.all())
	}
}

func skelIMDSD(t *testing.T) skelDaemon {
	bin := harness.Binary(t, "cmd/imdsd")
	return skelDaemon{
		socket:  "/run/systemd/io.systemd.InstanceMetadata",
		command: func(root string) *exec.Cmd { return exec.Command(bin, "--root="+root) },
	}
}

func TestVarlinkSkeletonIMDSD(t *testing.T) {
	sd := skelIMDSD(t)
	skelCheck(t, sd)
	t.Run("SocketFailure", func(t *testing.T) { skelCheckSocketFailure(t, sd) })
}

// networkd runs in a namespace of its own: never on the host's links.
func skelNetworkd(t *testing.T) skelDaemon {
	bin := harness.Binary(t, "cmd/networkd")
	ns := netns.New(t, "skel")
	return skelDaemon{
		socket:  "/run/systemd/netif/io.systemd.Network",
		command: func(root string) *exec.Cmd { return ns.Command(bin, "--root="+root) },
	}
}

func TestVarlinkSkeletonNetworkd(t *testing.T) {
	sd := skelNetworkd(t)
	skelCheck(t, sd)
	t.Run("SocketFailure", func(t *testing.T) { skelCheckSocketFailure(t, sd) })
}

// init in host mode, with a default.target to start.
func skelInit(t *testing.T) skelDaemon {
	bin := harness.Binary(t, "cmd/init")
	return skelDaemon{
		socket:  "/run/systemd/io.systemd.Manager",
		command: func(root string) *exec.Cmd { return exec.Command(bin, "--host", "--root="+root) },
		prepare: func(t *testing.T, root string) {
			initWriteUnit(t, root, "default.target", "[Unit]\nDescription=Default\n")
		},
	}
}

func TestVarlinkSkeletonInit(t *testing.T) {
	sd := skelInit(t)
	skelCheck(t, sd)
	t.Run("SocketFailure", func(t *testing.T) { skelCheckSocketFailure(t, sd) })
}
