//go:build integration

// Package netns makes network namespaces and veth pairs for the integration tests and
// benchmarks, runs commands, listeners and dials inside them, and builds their topologies: the
// DHCP tests' client — relay — server (NewRelay) and the IMDS tests' cloud — instance with a
// fake cloud serving (NewCloud). Everything it creates is removed when the test ends; names
// start with "stead-" and carry the test process's pid.
//
// Network safety: the namespaces start with nothing but a down loopback. Addresses such as
// 169.254.169.254 are only ever put on links inside them, so a test's traffic never leaves
// the namespaces it made.
package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/integration/harness"
)

var seq atomic.Int64

// NS is one named network namespace (ip netns).
type NS struct {
	Name string
}

// Need stops the test (harness.Require: a failure under CI, else a skip) unless namespaces
// can be made (root, ip).
func Need(t testing.TB) {
	t.Helper()
	harness.NeedRoot(t, "network namespaces")
	harness.NeedCommand(t, "ip", "iproute2")
}

// New creates the namespace stead-<pid>-<n>-<role> with its loopback up; it is deleted (with
// its links) when t ends.
func New(t testing.TB, role string) *NS {
	t.Helper()
	Need(t)
	name := fmt.Sprintf("stead-%d-%d-%s", os.Getpid(), seq.Add(1), role)
	if len(name) > 60 {
		name = name[:60]
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		harness.Require(t, fmt.Sprintf("cannot create a network namespace: %v %s", err, strings.TrimSpace(string(out))))
	}
	ns := &NS{Name: name}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", name).Run()
		os.RemoveAll(filepath.Join("/etc/netns", name))
	})
	ns.IP(t, "link", "set", "lo", "up")
	return ns
}

// IP runs `ip -n NAME args…`, fails the test on error and returns the output (stdout and
// stderr).
func (ns *NS) IP(t testing.TB, args ...string) string {
	t.Helper()
	return IP(t, append([]string{"-n", ns.Name}, args...)...)
}

// IP runs `ip args…`, fails the test on error and returns the output (stdout and stderr).
func IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Veth joins a (link aName) and b (link bName) with a veth pair and sets both ends up.
func Veth(t testing.TB, a *NS, aName string, b *NS, bName string) {
	t.Helper()
	IP(t, "link", "add", aName, "netns", a.Name, "type", "veth", "peer", "name", bName, "netns", b.Name)
	a.IP(t, "link", "set", aName, "up")
	b.IP(t, "link", "set", bName, "up")
}

// Command prepares `ip netns exec NAME argv…`: the program runs in the namespace, in a
// private mount namespace of its own (ip netns exec remounts /sys, and bind-mounts the files in
// /etc/netns/NAME/ over /etc, see SetHosts).
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// CommandContext is Command killed when ctx ends (exec.CommandContext).
func (ns *NS) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs argv in the namespace (Command), fails the test on error and returns the output
// (stdout and stderr).
func (ns *NS) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := ns.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s %s: %v\n%s", ns.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// SetHosts gives processes started with Command an /etc/hosts of their own.
func (ns *NS) SetHosts(t testing.TB, content string) {
	t.Helper()
	dir := filepath.Join("/etc/netns", ns.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Do runs f on an OS thread switched into the namespace. Sockets f creates belong to the
// namespace for their whole life, whichever thread uses them later.
func (ns *NS) Do(f func() error) error {
	target, err := unix.Open(filepath.Join("/var/run/netns", ns.Name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		ferr := f()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		} // else: the thread stays locked and dies with this goroutine.
		errc <- ferr
	}()
	return <-errc
}

// Listen opens a listener inside the namespace.
func (ns *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// Dial connects from inside the namespace with a plain, unmarked, unbound socket.
func (ns *NS) Dial(network, addr string, d *net.Dialer) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	var c net.Conn
	err := ns.Do(func() (err error) {
		c, err = d.Dial(network, addr)
		return err
	})
	return c, err
}

// Existing wraps a namespace made elsewhere (by name), for Do, Command and IP.
func Existing(name string) *NS { return &NS{Name: name} }

// DoT is Do that fails the test on error.
func (ns *NS) DoT(t testing.TB, f func() error) {
	t.Helper()
	if err := ns.Do(f); err != nil {
		t.Fatal(err)
	}
}

// Relay is the client — relay — server topology of the DHCP tests, three namespaces on two
// veth pairs, and nothing in the host's namespace:
//
//	client [c0] ——— [rd0 10.1.0.1/24] relay [rs0 10.2.0.1/24] ——— [s0 10.2.0.2/24] server
//
// The server has its address and routes back to the client subnets through the relay, which
// forwards IPv4. The relay's own addresses are set by the caller (AddrRelay) or by the daemon
// under test from its configuration.
type Relay struct {
	Client, Relay, Server *NS
}

// NewRelay builds the topology; extra downstream links are added with AddClient.
func NewRelay(t testing.TB, prefix string) *Relay {
	t.Helper()
	tp := &Relay{Client: New(t, prefix+"c"), Relay: New(t, prefix+"r"), Server: New(t, prefix+"s")}
	// Both pairs are created inside the relay namespace, then one end moved.
	tp.Relay.IP(t, "link", "add", "rd0", "type", "veth", "peer", "name", "c0", "netns", tp.Client.Name)
	tp.Relay.IP(t, "link", "add", "rs0", "type", "veth", "peer", "name", "s0", "netns", tp.Server.Name)
	tp.Server.IP(t, "addr", "add", "10.2.0.2/24", "dev", "s0")
	tp.Server.IP(t, "link", "set", "s0", "up")
	tp.Client.IP(t, "link", "set", "c0", "up")
	tp.Server.IP(t, "route", "add", "10.1.0.0/24", "via", "10.2.0.1")
	if out, err := tp.Relay.Command("sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("ip_forward: %v %s", err, out)
	}
	return tp
}

// AddClient adds a client namespace on a further downstream link of the relay:
// [ifname] ——— [relayIf] relay, with the server routing subnet back through the relay.
func (tp *Relay) AddClient(t testing.TB, role, ifname, relayIf, subnet string) *NS {
	t.Helper()
	c := New(t, role)
	tp.Relay.IP(t, "link", "add", relayIf, "type", "veth", "peer", "name", ifname, "netns", c.Name)
	c.IP(t, "link", "set", ifname, "up")
	tp.Server.IP(t, "route", "add", subnet, "via", "10.2.0.1")
	return c
}

// AddrRelay gives the relay its addresses itself and sets its links up (for relays other than
// networkd, which configures them from its .network files).
func (tp *Relay) AddrRelay(t testing.TB) {
	t.Helper()
	tp.Relay.IP(t, "addr", "add", "10.1.0.1/24", "dev", "rd0")
	tp.Relay.IP(t, "addr", "add", "10.2.0.1/24", "dev", "rs0")
	tp.Relay.IP(t, "link", "set", "rd0", "up")
	tp.Relay.IP(t, "link", "set", "rs0", "up")
}
