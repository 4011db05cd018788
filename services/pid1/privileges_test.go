package pid1

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stead-os/stead/lib/unit"
)

func TestCommandPrivileges(t *testing.T) {
	s := &unit.Service{AmbientCapabilities: 1 << 10, CapabilityBoundingSet: 1<<10 | 1<<5, NoNewPrivileges: true}
	if p := commandPrivileges(s, unit.ExecCommand{}); p.ambient != 1<<10 || p.bounding != 1<<10|1<<5 || !p.noNewPrivs {
		t.Errorf("plain command: %+v", p)
	}
	for _, c := range []unit.ExecCommand{{NoSetuid: true}, {AmbientOnly: true}} {
		if p := commandPrivileges(s, c); p.bounding != s.CapabilityBoundingSet || !p.noNewPrivs {
			t.Errorf("%+v: %+v, want the settings applied", c, p)
		}
	}
	if p := commandPrivileges(s, unit.ExecCommand{Privileged: true}); p.ambient != 0 || p.bounding != unit.AllCaps || p.noNewPrivs {
		t.Errorf("'+' command: %+v, want full privileges", p)
	}
	// "!!" switches to User= like a plain command: ambient capabilities are supported.
	if c := credential(identity{set: true, change: true, uid: 5}, unit.ExecCommand{AmbientOnly: true}); c == nil || c.Uid != 5 {
		t.Errorf("a '!!' command keeps our credentials: %+v", c)
	}
}

func TestForkExecRefusesAmbientOutsideBounding(t *testing.T) {
	_, err := forkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{Sys: &syscall.SysProcAttr{}},
		privileges{ambient: 1 << 5, bounding: 1 << 10})
	if err == nil || !strings.Contains(err.Error(), "CAP_KILL is not in CapabilityBoundingSet=") {
		t.Errorf("got %v", err)
	}
}

// TestForkExecNoNewPrivs runs a child with no_new_privs (allowed without privileges) and
// checks that the manager's own threads do not get it.
func TestForkExecNoNewPrivs(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pid, err := forkExec("/bin/grep", []string{"grep", "^NoNewPrivs", "/proc/self/status"},
		&syscall.ProcAttr{Files: []uintptr{0, w.Fd(), 2}, Sys: &syscall.SysProcAttr{}}, privileges{bounding: unit.AllCaps, noNewPrivs: true})
	w.Close()
	if err != nil {
		t.Skip(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	n, _ := r.Read(b)
	if got := strings.Join(strings.Fields(string(b[:n])), " "); got != "NoNewPrivs: 1" {
		t.Errorf("child: %q, want NoNewPrivs: 1", got)
	}
	self, _ := os.ReadFile("/proc/self/status")
	if strings.Contains(string(self), "NoNewPrivs:\t1") {
		t.Errorf("the manager got no_new_privs itself")
	}
}
