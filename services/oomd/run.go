package oomd

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdoom"
	"github.com/stead-os/stead/lib/daemon"
)

// Options are oomd's command-line settings.
type Options struct {
	Root    string
	Version string
	DryRun  bool
	Log     *slog.Logger // nil: lib/daemon's
}

// Main runs oomd through lib/daemon until it is stopped and returns the exit code.
func Main(o Options) int {
	d := daemon.New(daemon.Spec{Name: "oomd", Version: o.Version, Root: o.Root, Log: o.Log})
	m := NewManager(o.Root, nil, nil, d.Log(), o.DryRun)
	return d.Main(m, daemon.Socket{Path: iosystemdoom.SocketPath, Mode: 0o666, Interfaces: m.Dispatchers()})
}

// Load reads oomd.conf and the rulesets under the root into m. On an I/O failure the previous
// configuration (or rulesets) stay.
func (m *Manager) Load() error {
	warn := logWarn(m.log)
	cfg, err := LoadConfig(m.root, warn)
	if err != nil {
		return err
	}
	rules, err := LoadRules(m.root, warn)
	if err != nil {
		m.log.Warn("cannot enumerate rulesets, keeping the loaded ones", "err", err)
		rules = nil
	}
	for _, n := range sortedKeys(rules) {
		r := rules[n]
		m.log.Debug("registered ruleset", "ruleset", n, "action", r.Action, "memoryPressureAbove", r.MemoryPressureAbove,
			"swapUsageMax", r.SwapUsageMax, "lasting", r.Lasting.String())
	}
	m.SetConfig(cfg, rules)
	return nil
}

// Run loads the configuration, subscribes to the service manager, reports ready and runs the
// monitors until ctx ends (lib/daemon's Service).
func (m *Manager) Run(ctx context.Context, ready func()) error {
	if err := m.Load(); err != nil {
		return err
	}
	if sys, err := ReadMemInfo(m.root); err == nil && sys.SwapTotal == 0 {
		m.log.Info("no swap; memory pressure handling will be degraded")
	}
	if _, err := os.Stat(m.fs.Dir); err != nil {
		m.log.Warn("no cgroup tree", "dir", m.fs.Dir, "err", err)
	}
	sub := make(chan struct{})
	go func() { defer close(sub); m.subscribe(ctx) }()
	ready()
	swapT := time.NewTicker(SwapInterval)
	pressureT := time.NewTicker(PressureInterval)
	rulesT := time.NewTicker(RulesInterval)
	defer swapT.Stop()
	defer pressureT.Stop()
	defer rulesT.Stop()
	for {
		select {
		case <-ctx.Done():
			<-sub
			return nil
		case <-swapT.C:
			m.SwapRound()
		case <-pressureT.C:
			m.PressureRound()
		case <-rulesT.C:
			m.RulesRound()
		}
	}
}

// Reload re-reads oomd.conf and the rulesets (SIGHUP, io.systemd.service.Reload).
func (m *Manager) Reload(context.Context) error { return m.Load() }
