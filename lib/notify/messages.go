package notify

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Ready tells the manager that start-up (or a reload) has finished:
// READY=1.
func (n *Notifier) Ready() (bool, error) { return n.Send("READY=1") }

// Stopping tells the manager that the service is shutting down:
// STOPPING=1.
func (n *Notifier) Stopping() (bool, error) { return n.Send("STOPPING=1") }

// Watchdog pets the service watchdog: WATCHDOG=1.
func (n *Notifier) Watchdog() (bool, error) { return n.Send("WATCHDOG=1") }

// WatchdogTrigger asks the manager to act as if the watchdog had expired:
// WATCHDOG=trigger.
func (n *Notifier) WatchdogTrigger() (bool, error) { return n.Send("WATCHDOG=trigger") }

// Reloading tells the manager that a configuration reload has begun. It
// sends RELOADING=1 together with MONOTONIC_USEC, the current
// CLOCK_MONOTONIC time in microseconds, which Type=notify-reload services
// must include so the manager can tell this reload from an older one.
// Send Ready once the reload is complete.
func (n *Notifier) Reloading() (bool, error) {
	usec, err := monotonicUsec()
	if err != nil {
		return false, err
	}
	return n.Send("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatUint(usec, 10))
}

// Status sets the free-form status line shown by systemctl status:
// STATUS=text. The text may not contain line breaks, which the manager
// would read as separate assignments.
func (n *Notifier) Status(text string) (bool, error) {
	if strings.ContainsAny(text, "\n\r") {
		return false, fmt.Errorf("%w: status text contains a line break", ErrInvalidMessage)
	}
	return n.Send("STATUS=" + text)
}

// MainPID tells the manager which process is the service's main process:
// MAINPID=pid.
func (n *Notifier) MainPID(pid int) (bool, error) {
	if pid <= 0 {
		return false, fmt.Errorf("%w: main pid %d", ErrInvalidMessage, pid)
	}
	return n.Send("MAINPID=" + strconv.Itoa(pid))
}

// The package-level helpers read $NOTIFY_SOCKET on every call, so a change
// to the environment (or t.Setenv in a test) takes effect immediately.

// Send sends state and files to the socket in $NOTIFY_SOCKET; see
// Notifier.Send.
func Send(state string, files ...*os.File) (bool, error) {
	n, err := FromEnv()
	if err != nil {
		return false, err
	}
	return n.Send(state, files...)
}

// Ready sends READY=1 to the socket in $NOTIFY_SOCKET.
func Ready() (bool, error) { return withEnv((*Notifier).Ready) }

// Stopping sends STOPPING=1 to the socket in $NOTIFY_SOCKET.
func Stopping() (bool, error) { return withEnv((*Notifier).Stopping) }

// Watchdog sends WATCHDOG=1 to the socket in $NOTIFY_SOCKET.
func Watchdog() (bool, error) { return withEnv((*Notifier).Watchdog) }

// WatchdogTrigger sends WATCHDOG=trigger to the socket in $NOTIFY_SOCKET.
func WatchdogTrigger() (bool, error) { return withEnv((*Notifier).WatchdogTrigger) }

// Reloading sends RELOADING=1 and MONOTONIC_USEC to the socket in
// $NOTIFY_SOCKET; see Notifier.Reloading.
func Reloading() (bool, error) { return withEnv((*Notifier).Reloading) }

// Status sends STATUS=text to the socket in $NOTIFY_SOCKET.
func Status(text string) (bool, error) {
	return withEnv(func(n *Notifier) (bool, error) { return n.Status(text) })
}

// MainPID sends MAINPID=pid to the socket in $NOTIFY_SOCKET.
func MainPID(pid int) (bool, error) {
	return withEnv(func(n *Notifier) (bool, error) { return n.MainPID(pid) })
}

func withEnv(f func(*Notifier) (bool, error)) (bool, error) {
	n, err := FromEnv()
	if err != nil {
		return false, err
	}
	return f(n)
}
