// Package imdsd is imdsd: the broker between a machine and its cloud's instance metadata
// service (IMDS). It finds out where the metadata service is (flags, environment, kernel
// command line, credentials, hwdb), fetches values over HTTP through the machine's network
// interfaces — session tokens, retries, timeouts and a cache included — and serves them over
// Varlink as io.systemd.InstanceMetadata, on upstream systemd's socket. It also has the
// one-shot modes of upstream's systemd-imdsd: print one value (Query) and write the early
// network configuration (SetupNetwork).
package imdsd

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stead-os/stead/lib/kcmdline"
)

// Paths, relative to the root.
const (
	SocketPath        = "/run/systemd/io.systemd.InstanceMetadata"
	DefaultRuntimeDir = "/run/systemd/imds"
)

// Options are imdsd's settings, as the command line gives them.
type Options struct {
	// Root prefixes every path (/proc/cmdline, /sys, hwdb, the socket, the runtime
	// directory); "" or "/" is the host.
	Root string
	// Version is reported in GetInfo and the User-Agent header.
	Version string

	// Endpoint holds the endpoint flags (--vendor, --data-url, …, --well-known-key=).
	Endpoint Layer

	// Defaults for requests that do not say otherwise.
	Interface    string                      // -i: interface name or index; "" = any
	Refresh      time.Duration               // --refresh; 0 = 15 min
	FirewallMark *uint32                     // --fwmark; nil = 0x7FFF0815, 0 = none
	NoCache      bool                        // --cache=no
	Wait         bool                        // --wait / -w
	Timing       Timing                      // request timers
	RuntimeDir   string                      // "" = $RUNTIME_DIRECTORY, else (daemon only) /run/systemd/imds
	IdleExit     time.Duration               // socket-activated daemon exits after this long without clients
	Stdout       io.Writer                   // Query's output; nil = os.Stdout
	Log          *slog.Logger                // nil = slog.Default()
	Getenv       func(string) (string, bool) // nil = os.LookupEnv

	// One-shot modes.
	Key                string // positional KEY: print this value and exit
	WellKnown          string // -K: print this well-known value (dashed name) and exit
	SetupNetwork       bool   // --setup-network
	DefaultNetworkMode string // the build's default for systemd.imds.network=

	// HWDBDirs are extra directories of hwdb files (tests, or a build's own copy).
	HWDBDirs []string
}

// Service is a running imdsd: configuration, cache, tokens and HTTP clients.
type Service struct {
	opts   Options
	log    *slog.Logger
	timing Timing
	mark   uint32
	cache  *cache

	mu       sync.RWMutex
	ep       Endpoint
	epID     string
	source   string
	netMode  NetworkMode // from the kernel command line, "" if not set there
	tokens   map[string]*tokenState
	clients  map[clientKey]*httpClient
	ports    *lowPorts
	markWarn markWarning

	flightMu sync.Mutex
	flights  map[flightKey]*flight // get runs in progress

	// Hooks, replaced by tests.
	links   func() ([]Link, error)
	watch   func(context.Context) (<-chan struct{}, error)
	byIndex func(int) (Link, error)
	byName  func(string) (Link, error)
	now     func() time.Duration
	hwdb    func(root string) (map[string]string, []error)
	bind    bool // bind sockets to their interface
}

type clientKey struct {
	iface string
	mark  uint32
}

type tokenState struct {
	mu         sync.Mutex
	url        string
	token      string
	validUntil time.Duration
	loaded     bool
}

// New reads the configuration and prepares a service. daemon selects the default runtime
// directory (the disk cache); one-shot runs use $RUNTIME_DIRECTORY only.
func New(opts Options, daemon bool) (*Service, error) {
	s := &Service{
		opts:    opts,
		log:     opts.Log,
		timing:  opts.Timing.withDefaults(),
		mark:    DefaultFirewallMark,
		tokens:  map[string]*tokenState{},
		clients: map[clientKey]*httpClient{},
		ports:   newLowPorts(),
		links:   candidateLinks,
		watch:   watchAddresses,
		byIndex: linkByIndex,
		byName:  linkByName,
		now:     boottime,
		hwdb: func(root string) (map[string]string, []error) {
			return hwdbProperties(root, opts.HWDBDirs...)
		},
		bind: true,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.opts.Getenv == nil {
		s.opts.Getenv = os.LookupEnv
	}
	if opts.FirewallMark != nil {
		s.mark = *opts.FirewallMark
	}
	if s.opts.Refresh <= 0 {
		s.opts.Refresh = DefaultRefresh
	}
	if s.opts.Refresh < MinRefresh {
		s.log.Info("raising the refresh time to 1s, the shortest supported")
		s.opts.Refresh = MinRefresh
	}
	s.cache = newCache(s.runtimeDir(daemon), s.log)
	if daemon {
		// One-shot runs may share $RUNTIME_DIRECTORY with a running daemon; only the
		// daemon, its one writer, clears it.
		s.cache.removeStale()
	}
	if err := s.loadConfig(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) root() string {
	if s.opts.Root == "" {
		return "/"
	}
	return s.opts.Root
}

func (s *Service) runtimeDir(daemon bool) string {
	if s.opts.RuntimeDir != "" {
		return s.opts.RuntimeDir
	}
	if v, ok := s.opts.Getenv("RUNTIME_DIRECTORY"); ok && v != "" {
		first, _, _ := strings.Cut(v, ":")
		if filepath.IsAbs(first) {
			return first
		}
	}
	if daemon {
		return filepath.Join(s.root(), DefaultRuntimeDir)
	}
	return ""
}

// loadConfig resolves the endpoint from all sources and installs it.
func (s *Service) loadConfig() error {
	env, err := envLayer(s.opts.Getenv)
	if err != nil {
		return err
	}
	params, err := kcmdline.Load(s.opts.Root)
	if err != nil {
		s.log.Warn("cannot read the kernel command line", "err", err)
	}
	kernel, mode, warnings := kernelLayer(params)
	s.warn(warnings)
	cli := s.opts.Endpoint
	cli.Source = "command line"
	ep, source := resolve(&cli,
		func() Layer { return env },
		func() Layer { return kernel },
		func() Layer {
			l, w := credLayer(credRead)
			s.warn(w)
			return l
		},
		func() Layer {
			props, errs := s.hwdb(s.opts.Root)
			if len(props) == 0 {
				for _, e := range errs {
					s.log.Debug("hwdb", "err", e)
				}
			}
			l, w := hwdbLayer(props)
			s.warn(w)
			return l
		})
	if source != "" {
		s.log.Debug("IMDS endpoint configured", "source", source, "vendor", ep.Vendor, "dataUrl", ep.DataURL)
	}
	id := endpointID(&ep)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != s.epID {
		s.tokens = map[string]*tokenState{}
		for _, c := range s.clients {
			c.closeIdle()
		}
		s.clients = map[clientKey]*httpClient{}
		s.cache.clear()
	}
	s.ep, s.epID, s.source, s.netMode = ep, id, source, mode
	return nil
}

func (s *Service) warn(errs []error) {
	for _, e := range errs {
		s.log.Warn(e.Error())
	}
}

// endpointID identifies what an answer depends on, to keep answers of another configuration
// out of the cache.
func endpointID(e *Endpoint) string {
	return strings.Join(append([]string{e.DataURL, e.DataURLSuffix, e.TokenURL, e.TokenHeaderName},
		e.ExtraHeaders...), "\x00")
}

// Reload re-reads the configuration (kernel command line, credentials, hwdb); the flags stay.
func (s *Service) Reload(context.Context) error { return s.loadConfig() }

// Endpoint returns the configuration in use and the source it came from ("" when none).
func (s *Service) Endpoint() (Endpoint, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ep := s.ep
	ep.ExtraHeaders = append([]string(nil), ep.ExtraHeaders...)
	return ep, s.source
}

func (s *Service) snapshot() (Endpoint, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ep, s.epID
}

func (s *Service) client(iface string, mark uint32) *httpClient {
	k := clientKey{iface, mark}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[k]; ok {
		return c
	}
	d := &dialer{mark: mark, ports: s.ports, warn: &s.markWarn, log: s.log}
	if s.bind {
		d.iface = iface
	}
	c := newHTTPClient(d)
	s.clients[k] = c
	return c
}

func (s *Service) tokenState(iface string) *tokenState {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[iface]
	if !ok {
		t = &tokenState{}
		s.tokens[iface] = t
	}
	return t
}
