// Package oomd is stead's userspace OOM killer (systemd-oomd): it reads oomd.conf and the OOM
// rulesets (config.go, rules.go), learns which control groups to watch from the service
// manager (subscribe.go) and from user managers (varlink.go), watches memory pressure, swap
// use and the rules (monitor.go) on the cgroup tree under --root (cgroupfs.go) and kills whole
// control groups (kill.go) after calling the prekill hooks (prekill.go). It runs on
// lib/daemon (run.go). See docs/oomd.md.
package oomd

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stead-os/stead/lib/conf"
)

// Upstream's defaults and fixed parameters.
const (
	DefaultSwapUsedLimit          = 9000 // ‱ (90%)
	DefaultMemoryPressureLimit    = 6000 // ‱ (60%)
	DefaultMemoryPressureDuration = 30 * time.Second
	SwapInterval                  = 150 * time.Millisecond
	PressureInterval              = time.Second
	RulesInterval                 = time.Second
	PostActionDelay               = 15 * time.Second // no pressure kill this long after one
	ReclaimWindow                 = 30 * time.Second // a pressure kill needs reclaim this recent
	SwapCandidateThreshold        = 5                // % of SwapTotal a swap-kill candidate must exceed
	ConfigName                    = "systemd/oomd.conf"
	RulesDir                      = "systemd/oomd/rules.d"
	RuleSuffix                    = ".oomrule"
	permyriadMax                  = 10000
	minMemoryPressureDuration     = time.Second
)

// Config is oomd.conf's [OOM] section. Proportions are in ‱ (hundredths of a percent).
type Config struct {
	SwapUsedLimit                 int
	DefaultMemoryPressureLimit    int
	DefaultMemoryPressureDuration time.Duration
	PrekillHookTimeout            time.Duration
}

// DefaultConfig is the configuration without any file.
func DefaultConfig() Config {
	return Config{
		SwapUsedLimit:                 DefaultSwapUsedLimit,
		DefaultMemoryPressureLimit:    DefaultMemoryPressureLimit,
		DefaultMemoryPressureDuration: DefaultMemoryPressureDuration,
	}
}

// LoadConfig reads oomd.conf and its drop-ins under root; each problem goes to warn (located
// FILE:LINE) and leaves the setting at its default. The error is for I/O failures only.
func LoadConfig(root string, warn func(error)) (Config, error) {
	f, err := conf.LoadSearch(root, ConfigName, &conf.Options{Warn: warn})
	if err != nil {
		return DefaultConfig(), err
	}
	return ParseConfig(f, warn), nil
}

// ParseConfig reads the [OOM] settings of f.
func ParseConfig(f *conf.File, warn func(error)) Config {
	c := DefaultConfig()
	for _, s := range f.Sections() {
		if s.Name != "OOM" {
			continue
		}
		for _, e := range s.Entries {
			switch e.Key {
			case "SwapUsedLimit":
				conf.Set(&c.SwapUsedLimit, e, permyriad, warn)
			case "DefaultMemoryPressureLimit":
				if e.Value == "" {
					c.DefaultMemoryPressureLimit = DefaultMemoryPressureLimit
					continue
				}
				conf.Set(&c.DefaultMemoryPressureLimit, e, permyriad, warn)
			case "DefaultMemoryPressureDurationSec":
				var d time.Duration
				if e.Value == "" || e.Value == "0" {
					c.DefaultMemoryPressureDuration = DefaultMemoryPressureDuration
					continue
				}
				if !conf.Set(&d, e, conf.Timespan, warn) {
					continue
				}
				if d < minMemoryPressureDuration || d == conf.Infinity {
					warn(e.Wrap(fmt.Errorf("must be at least 1s and less than infinity, ignoring: %s", e.Value)))
					continue
				}
				c.DefaultMemoryPressureDuration = d
			case "PrekillHookTimeoutSec":
				if e.Value == "" {
					c.PrekillHookTimeout = 0
					continue
				}
				conf.Set(&c.PrekillHookTimeout, e, conf.Timespan, warn)
			default:
				warn(e.Wrap(errors.New("unknown setting, ignoring")))
			}
		}
	}
	return c
}

// permyriad reads a proportion ("90%", "12.34%", "900‰", "9000‱") in ‱.
func permyriad(e conf.Entry) (int, error) { return conf.Located(conf.ParsePermyriad)(e) }

// FormatPermyriad writes p ‱ as upstream's dumps do: "90.00%".
func FormatPermyriad(p int64) string { return fmt.Sprintf("%d.%02d%%", p/100, p%100) }

// logWarn returns a warn function logging to log.
func logWarn(log *slog.Logger) func(error) {
	return func(err error) { log.Warn(err.Error()) }
}
