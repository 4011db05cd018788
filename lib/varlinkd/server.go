// Package varlinkd serves and calls Varlink services the way systemd does, on top of
// github.com/varlink/go.
//
// A Server owns its listener (socket activation or a socket it binds itself), accepts
// connections itself and hands each one to the library's Service through its own framing loop.
// Before a method runs, the request is checked against the interface's IDL: unknown or
// mistyped parameters get org.varlink.service.InvalidParameter, a method that requires the
// `more` flag gets ExpectedMore, an unknown method gets MethodNotFound with its fully
// qualified name. Every server also serves io.systemd (error declarations) and
// io.systemd.service (Ping, Reload, SetLogLevel, GetLogLevel, GetEnvironment).
package varlinkd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemd"
	"github.com/varlink/go/varlink"
)

// MaxMessageSize bounds one request, as systemd does; a larger one closes its connection.
const MaxMessageSize = 16 << 20

// Dispatcher is what varlink-go-interface-generator's VarlinkNew returns: an interface
// implementation with its name and IDL text.
type Dispatcher interface {
	VarlinkDispatch(ctx context.Context, c varlink.Call, method string) error
	VarlinkGetName() string
	VarlinkGetDescription() string
}

// Info is what org.varlink.service.GetInfo reports.
type Info struct {
	Vendor, Product, Version, URL string
}

// Server serves a set of Varlink interfaces on one socket.
type Server struct {
	svc     *varlink.Service
	ifaces  map[string]*iface
	public  []string // interface names symlinked into the registry
	control *serviceControl
	log     *slog.Logger

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	idle      *time.Timer // nil unless Serve was asked to exit when idle
	idleAfter time.Duration
}

// Hooks connect io.systemd.service to the daemon.
type Hooks struct {
	// Reload re-reads configuration; nil means Reload only answers.
	Reload func(ctx context.Context) error
	// Level is the live log level that SetLogLevel changes; nil means SetLogLevel is accepted
	// and ignored.
	Level *slog.LevelVar
}

// New creates a server that reports info and serves io.systemd and io.systemd.service.
func New(info Info, hooks Hooks) (*Server, error) {
	svc, err := varlink.NewService(info.Vendor, info.Product, info.Version, info.URL)
	if err != nil {
		return nil, err
	}
	s := &Server{
		svc:    svc,
		ifaces: map[string]*iface{},
		log:    slog.Default(),
		conns:  map[net.Conn]struct{}{},
	}
	s.control = newServiceControl(hooks)
	// io.systemd declares only errors, which varlink/go's IDL parser refuses: index it by hand.
	if err := svc.RegisterInterface(iosystemd.Interface{}); err != nil {
		return nil, err
	}
	s.ifaces[iosystemd.Name] = &iface{name: iosystemd.Name}
	if err := s.register(s.control.dispatcher(), false); err != nil {
		return nil, err
	}
	return s, nil
}

// Register adds an interface; its name is symlinked into /run/varlink/registry when the
// server binds its own socket.
func (s *Server) Register(d Dispatcher) error { return s.register(d, true) }

func (s *Server) register(d Dispatcher, public bool) error {
	ifc, err := parseInterface(d.VarlinkGetDescription())
	if err != nil {
		return fmt.Errorf("interface %s: %w", d.VarlinkGetName(), err)
	}
	if ifc.name != d.VarlinkGetName() {
		return fmt.Errorf("interface %s: IDL declares %s", d.VarlinkGetName(), ifc.name)
	}
	if err := s.svc.RegisterInterface(d); err != nil {
		return err
	}
	s.ifaces[ifc.name] = ifc
	if public {
		s.public = append(s.public, ifc.name)
	}
	return nil
}

// Reload runs the reload hook, as io.systemd.service.Reload and SIGHUP do.
func (s *Server) Reload(ctx context.Context) error { return s.control.reload(ctx) }

// Serve accepts connections on l until ctx is done or l fails, then waits for open
// connections to end (they are closed by cancelling their context).
func (s *Server) Serve(ctx context.Context, l net.Listener, idleExit time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()

	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	if idleExit > 0 {
		s.armIdle(idleExit, cancel)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.track(c, true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.track(c, false)
			s.ServeConn(ctx, c)
		}()
	}
}

// armIdle makes Serve return once no connection has been open for d.
func (s *Server) armIdle(d time.Duration, stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = time.AfterFunc(d, func() {
		s.mu.Lock()
		busy := len(s.conns) > 0
		s.mu.Unlock()
		if !busy {
			s.log.Debug("idle, exiting")
			stop()
		}
	})
	s.idleAfter = d
}

// track records open connections, pausing the idle timer while any is open.
func (s *Server) track(c net.Conn, open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if open {
		s.conns[c] = struct{}{}
		if s.idle != nil {
			s.idle.Stop()
		}
		return
	}
	delete(s.conns, c)
	if s.idle != nil && len(s.conns) == 0 {
		s.idle.Reset(s.idleAfter)
	}
}
