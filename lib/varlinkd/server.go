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

	limits  Limits
	budget  *inputBudget
	refused rateLimitedLog // connections over the limits
	stalled rateLimitedLog // accept failing for lack of resources

	mu        sync.Mutex
	conns     connTable
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
		svc:     svc,
		ifaces:  map[string]*iface{},
		log:     slog.Default(),
		refused: rateLimitedLog{period: 10 * time.Second},
		stalled: rateLimitedLog{period: 10 * time.Second},
	}
	if err := s.SetLimits(Limits{}); err != nil {
		return nil, err
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

// SetLimits replaces the limits (zero fields take DefaultLimits'); call it before serving.
func (s *Server) SetLimits(l Limits) error {
	l, err := l.withDefaults()
	if err != nil {
		return err
	}
	s.limits = l
	s.budget = &inputBudget{max: l.MaxBufferedInput}
	return nil
}

// Reload runs the reload hook, as io.systemd.service.Reload does.
func (s *Server) Reload(ctx context.Context) error { return s.control.reload(ctx) }

// Serve accepts connections on l until ctx is done or l fails, then waits for open
// connections to end (they are closed by cancelling their context). A connection over the
// limits is closed at once; an accept that fails for lack of fds, buffers or memory is retried
// after a growing pause, so that the server outlives a client exhausting them.
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
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !acceptRetryable(err) {
				return err
			}
			backoff = nextBackoff(backoff)
			s.stalled.warn(s.log, "accepting Varlink connections failed, retrying", "err", err, "after", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		w := s.newWireConn(c)
		uid, privileged := w.peerClass()
		if !s.open(uid, privileged) {
			s.refused.warn(s.log, "too many Varlink connections, refusing", "uid", uid, "open", s.openCount())
			w.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.closed(uid)
			s.serveWire(ctx, w)
		}()
	}
}

// armIdle makes Serve return once no connection has been open for d.
func (s *Server) armIdle(d time.Duration, stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = time.AfterFunc(d, func() {
		s.mu.Lock()
		busy := s.conns.total > 0
		s.mu.Unlock()
		if !busy {
			s.log.Debug("idle, exiting")
			stop()
		}
	})
	s.idleAfter = d
}

// open admits a connection within the limits, pausing the idle timer.
func (s *Server) open(uid uint32, privileged bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.conns.admit(&s.limits, uid, privileged) {
		return false
	}
	if s.idle != nil {
		s.idle.Stop()
	}
	return true
}

// closed uncounts a connection, restarting the idle timer after the last one.
func (s *Server) closed(uid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns.leave(uid)
	if s.idle != nil && s.conns.total == 0 {
		s.idle.Reset(s.idleAfter)
	}
}

func (s *Server) openCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns.total
}
