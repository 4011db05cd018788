package pid1

import (
	"testing"

	"github.com/stead-os/stead/lib/unit"
)

// Besides privileged peers, only the processes of systemd-oomd.service may subscribe to
// ManagedOOM: oomd runs as its own user.
func TestOOMDaemonPeer(t *testing.T) {
	oomd := &unitState{u: &unit.Unit{Name: OOMDaemonUnit}}
	other := &unitState{u: &unit.Unit{Name: "evil.service"}}
	m := &Manager{pids: map[int]*proc{100: {pid: 100, us: oomd, main: true}, 200: {pid: 200, us: other, main: true}, 300: {pid: 300}}}
	for pid, want := range map[int]bool{100: true, 200: false, 300: false, 400: false} {
		if got := m.oomDaemonPID(pid); got != want {
			t.Errorf("pid %d: %v, want %v", pid, got, want)
		}
	}
}
