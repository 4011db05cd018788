package imdsd

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Errors of io.systemd.InstanceMetadata; Get and Query return them (possibly wrapped).
var (
	ErrKeyNotFound          = errors.New("key not found on the metadata service")
	ErrNotAvailable         = errors.New("metadata service refused access")
	ErrNotSupported         = errors.New("no usable metadata service configured")
	ErrWellKnownKeyUnset    = errors.New("well-known key not configured for this cloud")
	ErrCommunicationFailure = errors.New("communication with the metadata service failed")
	ErrTimeout              = errors.New("metadata service did not answer in time")
)

// InvalidParameterError rejects a Get parameter.
type InvalidParameterError struct{ Parameter string }

func (e *InvalidParameterError) Error() string { return "invalid parameter " + e.Parameter }

// errUnknownSetting is what Layer.Set returns for a name that is no endpoint field.
var errUnknownSetting = errors.New("unknown setting")

// commFailure wraps a transport error as ErrCommunicationFailure, keeping the cause.
func commFailure(err error) error {
	return fmt.Errorf("%w: %w", ErrCommunicationFailure, err)
}

// errnoError is a failure answered as io.systemd.System with errno.
func errnoError(errno unix.Errno, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errno)
}

// passThrough reports errors that end a search over interfaces at once: the service answered
// and the answer would be the same on every interface.
func passThrough(err error) bool {
	return errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrWellKnownKeyUnset) ||
		errors.Is(err, ErrNotAvailable)
}

// asTimeout turns an expired request deadline into ErrTimeout.
func asTimeout(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("%w (%v)", ErrTimeout, err)
	}
	return err
}
