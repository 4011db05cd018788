package pid1

// Device units: upstream learns of devices from udev; we have no udev, so a
// device unit is up ("plugged") while its device node exists. A start job
// waits for the node to appear, up to the default device timeout, as
// upstream waits for udev to announce the device (docs/systemd.unit.md).

import (
	"os"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/unit"
)

const (
	subPlugged subState = "plugged"

	// deviceTimeout is upstream's DefaultDeviceTimeoutSec=.
	deviceTimeout = 90 * time.Second
	devicePoll    = 100 * time.Millisecond
)

// devicePath is the device node a device unit stands for.
func devicePath(u *unit.Unit) string {
	return unit.UnescapePath(strings.TrimSuffix(u.Name, ".device"))
}

// startDevice finishes at once when the device exists, else polls for it
// until the timeout. m.mu held.
func (m *Manager) startDevice(us *unitState) {
	p := devicePath(us.u)
	if _, err := os.Stat(p); err == nil {
		us.result = resultSuccess
		m.setState(us, StateActive, subPlugged)
		return
	}
	m.setState(us, StateActivating, subDead)
	deadline := time.Now().Add(deviceTimeout)
	var poll func()
	poll = func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if us.active != StateActivating || us.job == nil {
			return
		}
		if _, err := os.Stat(p); err == nil {
			us.result = resultSuccess
			m.setState(us, StateActive, subPlugged)
			return
		}
		if time.Now().After(deadline) {
			m.log.Warn("timed out waiting for device", "unit", us.u.Name, "device", p)
			us.result = resultTimeout
			m.setState(us, StateInactive, subDead)
			return
		}
		time.AfterFunc(devicePoll, poll)
	}
	time.AfterFunc(devicePoll, poll)
}
