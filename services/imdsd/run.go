package imdsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Exit codes.
const (
	ExitSuccess       = 0
	ExitFailure       = 1
	ExitNotConfigured = 6 // LSB "program is not configured": no metadata service known
)

// Main runs imdsd in the mode the options select and returns the exit code:
//   - --setup-network: write the early network configuration (SetupNetwork);
//   - a key or -K, without socket activation: print one value (Query);
//   - otherwise serve io.systemd.InstanceMetadata through lib/daemon: on the socket passed
//     by the service manager (exiting after opts.IdleExit without clients), or on SocketPath
//     under the root.
//
// Logging is lib/daemon's (opts.Log, if set, replaces it) in every mode.
func Main(ctx context.Context, opts Options) int {
	d := daemon.New(daemon.Spec{Name: "imdsd", Version: opts.Version, Root: opts.Root, Log: opts.Log})
	opts.Log = d.Log()
	switch {
	case opts.SetupNetwork:
		if opts.Key != "" || opts.WellKnown != "" {
			opts.Log.Error("--setup-network takes no key")
			return ExitFailure
		}
		return SetupNetwork(opts)
	case (opts.Key != "" || opts.WellKnown != "") && !activated():
		return Query(ctx, opts)
	}
	s, err := New(opts, true)
	if err != nil {
		return d.ExitCode(err)
	}
	// The process's memory policy (see memory.go), which the service alone leaves to its
	// caller.
	if m := newMemoryLimit(); m != nil {
		s.cache.onResize(m.cacheResized)
	}
	return d.ExitCode(s.run(ctx, d))
}

// activated reports whether the service manager passed us sockets.
func activated() bool {
	return os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && os.Getenv("LISTEN_FDS") != ""
}

// Serve runs s as a daemon (lib/daemon, with s's logger) until ctx is done; ready, if set, is
// called once it serves.
func (s *Service) Serve(ctx context.Context, ready func()) error {
	d := daemon.New(daemon.Spec{Name: "imdsd", Version: s.opts.Version, Root: s.opts.Root, Log: s.log})
	if ready != nil {
		go func() {
			select {
			case <-d.Ready():
				ready()
			case <-ctx.Done():
			}
		}()
	}
	return s.run(ctx, d)
}

// run serves io.systemd.InstanceMetadata through d. imdsd does all its work in Varlink calls:
// it is ready as soon as it serves.
func (s *Service) run(ctx context.Context, d *daemon.Daemon) error {
	s.logEndpoint()
	return d.Run(ctx, daemon.Passive{OnReload: s.Reload},
		daemon.Socket{Path: SocketPath, IdleExit: s.opts.IdleExit, Interfaces: []varlinkd.Dispatcher{s.Dispatcher()}})
}

// logEndpoint says where requests will go.
func (s *Service) logEndpoint() {
	ep, source := s.Endpoint()
	switch {
	case source == "":
		s.log.Info("no IMDS endpoint configured or detected; requests will fail with NotSupported")
	case ep.usable() != nil:
		s.log.Warn("IMDS endpoint incomplete (a data URL, and both or neither of token URL and token header name, are needed)", "source", source)
	default:
		s.log.Info("IMDS endpoint", "source", source, "vendor", ep.Vendor, "dataUrl", ep.DataURL)
	}
}

// Query fetches one value (opts.Key, under the well-known key opts.WellKnown if set) and
// writes its raw bytes to opts.Stdout.
func Query(ctx context.Context, opts Options) int {
	s, code := newConfigured(opts)
	if s == nil {
		return code
	}
	var p GetParams
	if opts.Key != "" {
		if !ValidKey(opts.Key) {
			s.log.Error(fmt.Sprintf("%q is not a valid key (it must start with \"/\" and be printable ASCII)", opts.Key))
			return ExitFailure
		}
		p.Key = &opts.Key
	}
	if opts.WellKnown != "" {
		w, err := ParseWellKnown(opts.WellKnown, true)
		if err != nil {
			s.log.Error(err.Error())
			return ExitFailure
		}
		name := w.String()
		p.WellKnown = &name
	}
	data, _, err := s.Get(ctx, p)
	if err != nil {
		var ip *InvalidParameterError
		if errors.As(err, &ip) && ip.Parameter == "key" && p.WellKnown != nil {
			err = fmt.Errorf("a key can only be appended to the base or userdata-base well-known keys")
		}
		s.log.Error(err.Error())
		return ExitFailure
	}
	out := opts.Stdout
	if out == nil {
		out = os.Stdout
	}
	if _, err := out.Write(data); err != nil {
		s.log.Error(err.Error())
		return ExitFailure
	}
	return ExitSuccess
}

// newConfigured makes the Service for a one-shot command (Query, SetupNetwork); when it
// cannot, or no endpoint is configured, it logs why and returns nil and the exit code.
func newConfigured(opts Options) (*Service, int) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	s, err := New(opts, false)
	if err != nil {
		opts.Log.Error(err.Error())
		return nil, ExitFailure
	}
	if code, ok := s.configured(); !ok {
		return nil, code
	}
	return s, ExitSuccess
}

// configured reports ExitNotConfigured when no source configured an endpoint or it has no
// data URL.
func (s *Service) configured() (int, bool) {
	ep, source := s.Endpoint()
	if source == "" {
		s.log.Error("no IMDS endpoint configured or detected")
		return ExitNotConfigured, false
	}
	if ep.DataURL == "" {
		s.log.Error("the IMDS endpoint has no data URL", "source", source)
		return ExitNotConfigured, false
	}
	return 0, true
}

// SetupNetwork writes the systemd-networkd configuration (NetworkFile) and the resolved
// records (RRFile) that let early boot reach the metadata service. systemd.imds.network= on
// the kernel command line, else opts.DefaultNetworkMode (unlocked when unset), decides how:
// off writes nothing, unlocked routes the service's address through a table of its own,
// locked also blocks it for unmarked traffic.
func SetupNetwork(opts Options) int {
	s, code := newConfigured(opts)
	if s == nil {
		return code
	}
	mode := s.networkMode()
	if mode == NetworkOff {
		s.log.Info("IMDS networking is off, writing no configuration")
		return ExitSuccess
	}
	ep, _ := s.Endpoint()
	if err := writePublic(s.root(), NetworkFile, networkConfig(&ep, mode)); err != nil {
		s.log.Error("cannot write the network configuration", "err", err)
		return ExitFailure
	}
	s.log.Debug("wrote " + NetworkFile)
	rr := rrRecords(&ep)
	if rr == "" {
		s.log.Info("no IMDS address known, writing no resolver records")
		return ExitSuccess
	}
	if err := writePublic(s.root(), RRFile, rr); err != nil {
		s.log.Error("cannot write the resolver records", "err", err)
		return ExitFailure
	}
	s.log.Debug("wrote " + RRFile)
	return ExitSuccess
}

func (s *Service) networkMode() NetworkMode {
	s.mu.RLock()
	mode := s.netMode
	s.mu.RUnlock()
	if mode != "" {
		return mode
	}
	if s.opts.DefaultNetworkMode != "" {
		m, err := ParseNetworkMode(s.opts.DefaultNetworkMode)
		if err == nil {
			return m
		}
		s.log.Warn("built-in network mode invalid, using unlocked", "err", err)
	}
	return NetworkUnlocked
}

// DefaultIdleExit is how long a socket-activated imdsd waits for new clients before exiting.
const DefaultIdleExit = 60 * time.Second
