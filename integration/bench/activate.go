//go:build integration

// Package bench holds whole-process benchmarks of stead's daemons side by side with
// upstream systemd's (go test -tags integration -bench . ./integration/bench/), and the
// socket-activation emulation they and the interop tests share.
package bench

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Activator emulates a systemd socket unit with Accept=yes: for every connection on its
// listener it starts one service process with the connected socket as fd 3 (LISTEN_FDS=1,
// LISTEN_FDNAMES=varlink, LISTEN_PID set by the shell shim to the pid that execs the
// service). Start returns the command for one instance: its argv must end up exec'ing the
// service in the same process (ip netns exec, unshare without --fork, chroot and sh -c
// "exec …" all do), and it must contain ActivationShim where the shim belongs.
type Activator struct {
	l     *net.UnixListener
	start func() *exec.Cmd
	wg    sync.WaitGroup
	mu    sync.Mutex
	procs map[*os.Process]bool
	// Spawned counts the instances started.
	Spawned int
}

// ActivationShim is a sh -c script that sets LISTEN_PID to the shell's own pid and execs
// "$0" "$@" (os/exec cannot set a variable after fork).
const ActivationShim = `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`

// Activate listens on the unix socket path and starts serving.
func Activate(path string, start func() *exec.Cmd) (*Activator, error) {
	os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o666)
	a := &Activator{l: l, start: start, procs: map[*os.Process]bool{}}
	a.wg.Add(1)
	go a.loop()
	return a, nil
}

func (a *Activator) loop() {
	defer a.wg.Done()
	for {
		c, err := a.l.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		f, err := c.File()
		c.Close()
		if err != nil {
			continue
		}
		cmd := a.start()
		cmd.Env = append(cmd.Env, "LISTEN_FDS=1", "LISTEN_FDNAMES=varlink")
		cmd.ExtraFiles = []*os.File{f}
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			f.Close()
			continue
		}
		f.Close()
		a.mu.Lock()
		a.Spawned++
		a.procs[cmd.Process] = true
		a.mu.Unlock()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			cmd.Wait()
			a.mu.Lock()
			delete(a.procs, cmd.Process)
			a.mu.Unlock()
		}()
	}
}

// Count returns how many instances were started.
func (a *Activator) Count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Spawned
}

// Pids returns the pids of the instances running now.
func (a *Activator) Pids() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int
	for p := range a.procs {
		out = append(out, p.Pid)
	}
	return out
}

// Close stops listening, terminates the running instances (by pid) and waits for them.
func (a *Activator) Close() {
	a.l.Close()
	a.mu.Lock()
	for p := range a.procs {
		p.Signal(syscall.SIGTERM)
	}
	a.mu.Unlock()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		a.mu.Lock()
		for p := range a.procs {
			p.Kill()
		}
		a.mu.Unlock()
		<-done
	}
}
