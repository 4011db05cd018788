// Package iosystemd holds the io.systemd interface, which declares no methods, only the errors
// that every systemd Varlink service may return. varlink-go-interface-generator refuses an
// interface without methods, so this package is written by hand around the embedded IDL.
package iosystemd

import (
	"context"
	_ "embed"
	"errors"
	"fmt"

	"github.com/varlink/go/varlink"
	"golang.org/x/sys/unix"
)

// Name is the interface name.
const Name = "io.systemd"

// Error names declared by the interface.
const (
	ErrorDisconnected = Name + ".Disconnected"
	ErrorTimedOut     = Name + ".TimedOut"
	ErrorProtocol     = Name + ".Protocol"
	ErrorSystem       = Name + ".System"
)

//go:embed io.systemd.varlink
var description string

// System is the parameter object of io.systemd.System: a failed system call's errno.
type System struct {
	Origin    *string `json:"origin,omitempty"`
	ErrnoName *string `json:"errnoName,omitempty"`
	Errno     *int64  `json:"errno,omitempty"`
}

// NewSystem describes errno e the way systemd services do (origin "linux", name and number).
func NewSystem(e unix.Errno) System {
	origin, name, num := "linux", unix.ErrnoName(e), int64(e)
	s := System{Origin: &origin, Errno: &num}
	if name != "" {
		s.ErrnoName = &name
	}
	return s
}

// Error implements error.
func (s System) Error() string {
	switch {
	case s.ErrnoName != nil:
		return fmt.Sprintf("%s: %s", ErrorSystem, *s.ErrnoName)
	case s.Errno != nil:
		return fmt.Sprintf("%s: errno %d", ErrorSystem, *s.Errno)
	}
	return ErrorSystem
}

// Unwrap lets errors.Is(err, unix.ENOENT) see through a received System error.
func (s System) Unwrap() error {
	if s.Errno == nil {
		return nil
	}
	return unix.Errno(*s.Errno)
}

// ErrnoOf finds the errno in err's chain, if any.
func ErrnoOf(err error) (unix.Errno, bool) {
	var e unix.Errno
	if errors.As(err, &e) && e != 0 {
		return e, true
	}
	return 0, false
}

// Interface is the io.systemd interface as a varlink dispatcher: introspectable, no methods.
type Interface struct{}

// VarlinkDispatch answers every call with MethodNotFound: the interface has no methods.
func (Interface) VarlinkDispatch(ctx context.Context, c varlink.Call, method string) error {
	return c.ReplyMethodNotFound(ctx, Name+"."+method)
}

// VarlinkGetName returns the interface name.
func (Interface) VarlinkGetName() string { return Name }

// VarlinkGetDescription returns the IDL text.
func (Interface) VarlinkGetDescription() string { return description }
