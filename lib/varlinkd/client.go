package varlinkd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemd"
	"github.com/varlink/go/varlink"
	"golang.org/x/sys/unix"
)

// Client is one connection to a Varlink service. Like varlink.Connection it is not safe for
// concurrent calls: use one per goroutine.
type Client struct {
	*varlink.Connection
	cmd *exec.Cmd // the service process for exec: addresses
}

// Dial connects to address: "unix:PATH", a plain socket path, or "exec:BINARY [ARG…]" which
// starts BINARY with one end of a socket pair as its activation fd (LISTEN_FDS=1,
// LISTEN_FDNAMES=varlink), the way upstream's exec: addresses do.
func Dial(ctx context.Context, address string) (*Client, error) {
	switch {
	case strings.HasPrefix(address, "exec:"):
		return dialExec(ctx, strings.Fields(strings.TrimPrefix(address, "exec:")))
	case strings.HasPrefix(address, "unix:"):
	case strings.HasPrefix(address, "/"), strings.HasPrefix(address, "."):
		address = "unix:" + address
	default:
		return nil, fmt.Errorf("varlink address %q: want unix:PATH, /PATH or exec:BINARY", address)
	}
	c, err := varlink.NewConnection(ctx, address)
	if err != nil {
		return nil, err
	}
	return &Client{Connection: c}, nil
}

// connDialer hands out an already connected socket, for varlink.NewConnectionWithDialer.
type connDialer struct{ c net.Conn }

func (d connDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	return d.c, nil
}

// listenPIDShim makes the child set LISTEN_PID to its own pid before exec'ing the service:
// os/exec cannot set an environment variable after fork.
const listenPIDShim = `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`

func dialExec(ctx context.Context, argv []string) (*Client, error) {
	if len(argv) == 0 {
		return nil, errors.New("exec: address without a binary")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ours := os.NewFile(uintptr(fds[0]), "varlink-client")
	theirs := os.NewFile(uintptr(fds[1]), "varlink")
	defer theirs.Close()
	defer ours.Close()

	cmd := exec.Command("/bin/sh", append([]string{"-c", listenPIDShim}, argv...)...)
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_FDNAMES=varlink")
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", argv[0], err)
	}
	nc, err := net.FileConn(ours)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	c, err := varlink.NewConnectionWithDialer(ctx, "unix:exec", connDialer{nc})
	if err != nil {
		nc.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	return &Client{Connection: c, cmd: cmd}, nil
}

// Close ends the connection; a service started for an exec: address sees EOF and exits, and
// is killed if it has not within five seconds.
func (c *Client) Close() error {
	err := c.Connection.Close()
	if c.cmd != nil {
		done := make(chan struct{})
		go func() {
			c.cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.cmd.Process.Kill()
			<-done
		}
	}
	return err
}

// Call sends one method call and decodes the reply into out (nil: ignore the parameters).
// Empty replies are decoded into a throwaway struct: the generated clients pass nil and fail
// with "json: Unmarshal(nil)" when a server sends "parameters":{}.
func (c *Client) Call(ctx context.Context, method string, in, out any) error {
	if out == nil {
		out = &struct{}{}
	}
	if in == nil {
		in = struct{}{}
	}
	return typedError(c.Connection.Call(ctx, method, in, out))
}

// Stream calls method with the `more` flag and passes each reply to fn until the last one.
func (c *Client) Stream(ctx context.Context, method string, in any, fn func(json.RawMessage) error) error {
	if in == nil {
		in = struct{}{}
	}
	receive, err := c.Connection.Send(ctx, method, in, varlink.More)
	if err != nil {
		return err
	}
	for {
		var reply json.RawMessage
		flags, err := receive(ctx, &reply)
		if err != nil {
			return typedError(err)
		}
		if err := fn(reply); err != nil {
			return err
		}
		if flags&varlink.Continues == 0 {
			return nil
		}
	}
}

// typedError turns an io.systemd.System reply into iosystemd.System, so errors.Is finds its
// errno; other errors pass unchanged.
func typedError(err error) error {
	var ve *varlink.Error
	if !errors.As(err, &ve) || ve.Name != iosystemd.ErrorSystem {
		return err
	}
	var sys iosystemd.System
	if raw, ok := ve.Parameters.(*json.RawMessage); ok && raw != nil {
		if json.Unmarshal(*raw, &sys) == nil {
			return sys
		}
	}
	return err
}

// ProcessState reports how the service started for an exec: address exited, once Close has
// returned; nil for socket connections.
func (c *Client) ProcessState() *os.ProcessState {
	if c.cmd == nil {
		return nil
	}
	return c.cmd.ProcessState
}
