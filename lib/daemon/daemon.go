// Package daemon is the one start-up path of stead's daemons. A daemon describes itself (a
// Spec: name, version, root, an optional restart signal), builds its service with the logger
// New set up, and hands the service and its Varlink sockets to Run or Main, which do the rest
// the same way for every daemon:
//
//   - logging through lib/log (the default slog logger, level from $SYSTEMD_LOG_LEVEL);
//   - SIGTERM and SIGINT stop the daemon (its context is cancelled), SIGHUP reloads it, and
//     Spec.RestartSignal stops it as a restart;
//   - the Varlink servers (lib/varlinkd) with the shared Info and io.systemd.service wired to
//     Reload and to lib/log's live level;
//   - the service manager hears READY=1 exactly once, when every socket is served and the
//     service said it is ready; RELOADING=1 (with MONOTONIC_USEC) and READY=1 around every
//     reload; WATCHDOG=1 at half of $WATCHDOG_USEC; STOPPING=1 when the stop begins;
//   - the exit code: 0 after a clean stop, 1 after a failure.
//
// See docs/daemon.md.
package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	steadlog "github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/lib/notify"
	"github.com/stead-os/stead/lib/varlinkd"
)

// What every daemon's org.varlink.service.GetInfo reports besides its name and version.
const (
	Vendor = "stead"
	URL    = "https://github.com/stead-os/stead"
)

// Exit codes of Main, as upstream's daemons use them.
const (
	ExitSuccess = 0
	ExitFailure = 1
)

// ErrRestart is the cause (context.Cause) of a stop by Spec.RestartSignal when
// Spec.RestartCause is nil.
var ErrRestart = errors.New("restart requested")

// errStopping answers a reload asked for once the daemon has begun to stop.
var errStopping = errors.New("the daemon is stopping")

// Spec describes a daemon.
type Spec struct {
	// Name is the program's name: in log lines and as the Varlink Product.
	Name    string
	Version string
	// Root prefixes the sockets' paths (--root); "" or "/" is the real root.
	Root string
	// RestartSignal, if set, also stops the daemon, as a restart: Run's context is cancelled
	// with RestartCause (ErrRestart when nil) as its cause, so that the daemon can leave state
	// for the next process (networkd's SIGUSR2, upstream's RestartKillSignal=).
	RestartSignal os.Signal
	RestartCause  error
	// Log replaces the logger New sets up (tests); nil means lib/log's Setup(Name).
	Log *slog.Logger
}

// Socket is one Varlink socket a daemon serves.
type Socket struct {
	// Path is bound under Spec.Root unless the service manager passed a socket (only the
	// first Socket of a daemon takes it).
	Path string
	// Mode of a bound socket; 0 means 0666.
	Mode os.FileMode
	// IdleExit, when positive, stops the daemon after that long without connections if the
	// socket came from socket activation.
	IdleExit   time.Duration
	Interfaces []varlinkd.Dispatcher
	// Listener, if set, is served instead of binding Path: a socket kept open over a
	// re-execution (init's daemon-reexec).
	Listener net.Listener
}

// Service is a daemon's own work.
type Service interface {
	// Run does the work until ctx is done and then cleans up; it calls ready once the daemon
	// is started (configuration loaded, state set up). ctx's cause (context.Cause) tells a
	// restart (Spec.RestartCause) from a stop. Returning ends the daemon: nil as a clean stop,
	// an error as a failure.
	Run(ctx context.Context, ready func()) error
	// Reload re-reads the configuration (SIGHUP, io.systemd.service.Reload). Reloads never
	// overlap, and none starts before Run called ready.
	Reload(ctx context.Context) error
}

// Daemon runs one Service the stead way. Make it with New.
type Daemon struct {
	spec   Spec
	log    *slog.Logger
	notify *notify.Notifier

	reloadMu sync.Mutex // one reload at a time

	mu        sync.Mutex
	svc       Service       // set by Run
	readySent bool          // READY=1 went out
	stopped   bool          // the stop began
	ready     chan struct{} // closed once READY=1 went out
	stopping  chan struct{} // closed when the stop begins
}

// New sets up logging for the daemon (unless s.Log is set) and reads $NOTIFY_SOCKET.
func New(s Spec) *Daemon {
	log := s.Log
	if log == nil {
		log = steadlog.Setup(s.Name)
	}
	n, err := notify.FromEnv()
	if err != nil {
		log.Warn("ignoring "+notify.EnvSocket, "err", err)
		n = nil
	}
	return &Daemon{spec: s, log: log, notify: n, ready: make(chan struct{}), stopping: make(chan struct{})}
}

// Log returns the daemon's logger.
func (d *Daemon) Log() *slog.Logger { return d.log }

// Ready is closed once READY=1 has been sent: every socket is served and the service is
// started.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Main runs the daemon (Run) until it stops and returns the exit code: ExitSuccess after a
// clean stop, ExitFailure, with the error logged, after a failure.
func (d *Daemon) Main(svc Service, sockets ...Socket) int {
	return d.ExitCode(d.Run(context.Background(), svc, sockets...))
}

// ExitCode logs err, if any, and returns the exit code for it.
func (d *Daemon) ExitCode(err error) int {
	if err != nil {
		d.log.Error(err.Error())
		return ExitFailure
	}
	return ExitSuccess
}

// Info is what a stead daemon's org.varlink.service.GetInfo reports.
func Info(name, version string) varlinkd.Info {
	return varlinkd.Info{Vendor: Vendor, Product: name, Version: version, URL: URL}
}

// NewServer makes a daemon's Varlink server: Info(name, version), io.systemd.service's Reload
// running reload and its SetLogLevel/GetLogLevel on lib/log's live level, and the interfaces.
// Run uses it for every Socket; init as PID 1, which runs its servers itself, too.
func NewServer(name, version string, reload func(context.Context) error, ifaces ...varlinkd.Dispatcher) (*varlinkd.Server, error) {
	srv, err := varlinkd.New(Info(name, version), varlinkd.Hooks{Reload: reload, Level: steadlog.LevelVar()})
	if err != nil {
		return nil, err
	}
	for _, i := range ifaces {
		if err := srv.Register(i); err != nil {
			return nil, err
		}
	}
	return srv, nil
}

// Passive is the Service of a daemon whose work is all done in its Varlink methods: Run is
// ready at once and waits for the stop; Reload runs OnReload, if set.
type Passive struct {
	OnReload func(context.Context) error
}

// Run reports ready and waits for ctx.
func (p Passive) Run(ctx context.Context, ready func()) error {
	ready()
	<-ctx.Done()
	return nil
}

// Reload runs OnReload.
func (p Passive) Reload(ctx context.Context) error {
	if p.OnReload == nil {
		return nil
	}
	return p.OnReload(ctx)
}
