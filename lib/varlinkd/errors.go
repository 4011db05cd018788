package varlinkd

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/stead-os/stead/lib/api/iosystemd"
	"github.com/varlink/go/varlink"
	"golang.org/x/sys/unix"
)

const orgVarlinkService = "org.varlink.service"

// Error names of org.varlink.service, which varlink/go's ReplyError refuses to send.
const (
	ErrInterfaceNotFound    = orgVarlinkService + ".InterfaceNotFound"
	ErrMethodNotFound       = orgVarlinkService + ".MethodNotFound"
	ErrMethodNotImplemented = orgVarlinkService + ".MethodNotImplemented"
	ErrInvalidParameter     = orgVarlinkService + ".InvalidParameter"
	ErrPermissionDenied     = orgVarlinkService + ".PermissionDenied"
	ErrExpectedMore         = orgVarlinkService + ".ExpectedMore"
)

// errorReply is an error message on the wire.
type errorReply struct {
	Error      string `json:"error"`
	Parameters any    `json:"parameters,omitempty"`
}

// writeError sends an error reply of any name straight to the connection.
func writeError(ctx context.Context, w varlink.ReadWriterContext, name string, params any) error {
	if params == nil {
		params = struct{}{}
	}
	b, err := json.Marshal(errorReply{Error: name, Parameters: params})
	if err != nil {
		return err
	}
	_, err = w.Write(ctx, append(b, 0))
	return err
}

// ReplyError answers c with error name, including org.varlink.service errors.
func ReplyError(ctx context.Context, c varlink.Call, name string, params any) error {
	if c.IsOneway() {
		return nil
	}
	return writeError(ctx, c.Conn, name, params)
}

// ReplyPermissionDenied answers c with org.varlink.service.PermissionDenied.
func ReplyPermissionDenied(ctx context.Context, c varlink.Call) error {
	return ReplyError(ctx, c, ErrPermissionDenied, nil)
}

// ReplyExpectedMore answers c with org.varlink.service.ExpectedMore, for methods that decide
// at run time that they need the `more` flag.
func ReplyExpectedMore(ctx context.Context, c varlink.Call) error {
	return ReplyError(ctx, c, ErrExpectedMore, nil)
}

// ReplyInvalidParameter answers c with org.varlink.service.InvalidParameter for a parameter
// whose value is well-typed but unacceptable.
func ReplyInvalidParameter(ctx context.Context, c varlink.Call, parameter string) error {
	return ReplyError(ctx, c, ErrInvalidParameter, map[string]string{"parameter": parameter})
}

// ReplyErrno answers c with io.systemd.System carrying err's errno (EIO when err has none).
func ReplyErrno(ctx context.Context, c varlink.Call, err error) error {
	e, ok := iosystemd.ErrnoOf(err)
	if !ok {
		e = unix.EIO
	}
	return ReplyError(ctx, c, iosystemd.ErrorSystem, iosystemd.NewSystem(e))
}

// ErrorName returns the Varlink error name carried by err from a call, or "".
func ErrorName(err error) string {
	var ve *varlink.Error
	if errors.As(err, &ve) {
		return ve.Name
	}
	// varlink/go turns these four into types of their own.
	var (
		inf *varlink.InterfaceNotFound
		mnf *varlink.MethodNotFound
		mni *varlink.MethodNotImplemented
		ip  *varlink.InvalidParameter
	)
	switch {
	case errors.As(err, &inf):
		return ErrInterfaceNotFound
	case errors.As(err, &mnf):
		return ErrMethodNotFound
	case errors.As(err, &mni):
		return ErrMethodNotImplemented
	case errors.As(err, &ip):
		return ErrInvalidParameter
	}
	var sys iosystemd.System
	if errors.As(err, &sys) {
		return iosystemd.ErrorSystem
	}
	return ""
}
