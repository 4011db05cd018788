package notify

import (
	"fmt"
	"os"
)

// MaxFDNameLen is the longest file descriptor name the manager accepts.
const MaxFDNameLen = 255

// ValidateFDName checks that name can label stored descriptors: 1 to 255
// printable ASCII characters other than ':'. The manager hands names back
// in $LISTEN_FDNAMES, a ':'-separated list, hence the colon ban; control
// characters would also break the newline-separated message. The manager
// itself tolerates an empty name (it substitutes "stored"); we refuse it so
// every stored descriptor has a name its owner chose.
func ValidateFDName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidFDName)
	}
	if len(name) > MaxFDNameLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidFDName, len(name), MaxFDNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w: %q: control character at byte %d", ErrInvalidFDName, name, i)
		case c > 0x7f:
			return fmt.Errorf("%w: %q: non-ASCII byte at %d", ErrInvalidFDName, name, i)
		case c == ':':
			return fmt.Errorf("%w: %q: contains ':'", ErrInvalidFDName, name)
		}
	}
	return nil
}

// StoreFDs hands files to the manager's file descriptor store under name
// (FDSTORE=1, FDNAME=name), so they survive a restart of the service and
// come back through socket activation ($LISTEN_FDS/$LISTEN_FDNAMES). With
// poll false the message also carries FDPOLL=0, telling the manager not to
// watch the descriptors and drop them when they hang up or error. The
// service needs FileDescriptorStoreMax= set for the manager to keep them.
// The files stay open in this process.
func (n *Notifier) StoreFDs(name string, poll bool, files ...*os.File) (bool, error) {
	if err := ValidateFDName(name); err != nil {
		return false, err
	}
	if len(files) == 0 {
		return false, fmt.Errorf("%w: FDSTORE without descriptors", ErrInvalidMessage)
	}
	state := "FDSTORE=1\nFDNAME=" + name
	if !poll {
		state += "\nFDPOLL=0"
	}
	return n.Send(state, files...)
}

// RemoveFDs asks the manager to close and forget every stored descriptor
// named name: FDSTOREREMOVE=1, FDNAME=name.
func (n *Notifier) RemoveFDs(name string) (bool, error) {
	if err := ValidateFDName(name); err != nil {
		return false, err
	}
	return n.Send("FDSTOREREMOVE=1\nFDNAME=" + name)
}

// StoreFDs stores files under name via the socket in $NOTIFY_SOCKET; see
// Notifier.StoreFDs.
func StoreFDs(name string, poll bool, files ...*os.File) (bool, error) {
	return withEnv(func(n *Notifier) (bool, error) { return n.StoreFDs(name, poll, files...) })
}

// RemoveFDs removes the descriptors stored under name via the socket in
// $NOTIFY_SOCKET; see Notifier.RemoveFDs.
func RemoveFDs(name string) (bool, error) {
	return withEnv(func(n *Notifier) (bool, error) { return n.RemoveFDs(name) })
}
