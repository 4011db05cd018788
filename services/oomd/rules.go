package oomd

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/conf"
)

// Action is what a rule does once its conditions held for LastingSec=.
type Action string

// The actions of a [Rule].
const (
	ActionKillAll      Action = "kill-all"       // kill the watched group itself
	ActionKillByPgscan Action = "kill-by-pgscan" // kill its descendant reclaiming the most
	ActionKillBySwap   Action = "kill-by-swap"   // kill its descendant using the most swap
)

// Rule is one ruleset, a *.oomrule file. Thresholds are in ‱; -1 means unset.
type Rule struct {
	Name                string
	MemoryPressureAbove int
	SwapUsageMax        int
	Action              Action
	Lasting             time.Duration
	File                string
}

// RuleDirs are the directories rulesets are read from, most important first.
func RuleDirs() []string {
	var out []string
	for _, d := range conf.SearchDirs() {
		out = append(out, path.Join(d, RulesDir))
	}
	return out
}

// LoadRules reads every *.oomrule under root's rule directories: a file masks the same name in
// later directories, a symlink to /dev/null or an empty file masks without defining a ruleset.
// Invalid rulesets are reported to warn and left out. The error is for a directory that
// cannot be read (the caller then keeps the rulesets it had).
func LoadRules(root string, warn func(error)) (map[string]*Rule, error) {
	seen := map[string]bool{}
	rules := map[string]*Rule{}
	for _, dir := range RuleDirs() {
		ents, err := os.ReadDir(filepath.Join(root, dir))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), RuleSuffix) {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, fn := range names {
			name := strings.TrimSuffix(fn, RuleSuffix)
			if seen[name] {
				continue
			}
			seen[name] = true
			p := path.Join(dir, fn)
			host := filepath.Join(root, p)
			if !ValidRuleName(name) {
				warn(fmt.Errorf("%s: invalid ruleset name %q, ignoring", host, name))
				continue
			}
			if masked(host) {
				continue
			}
			f, err := conf.LoadFiles(root, p, nil, &conf.Options{Warn: warn})
			if err != nil {
				warn(err)
				continue
			}
			if r := ParseRule(name, host, f, warn); r != nil {
				rules[name] = r
			}
		}
	}
	return rules, nil
}

// masked reports whether the file at host is empty or a link to /dev/null.
func masked(host string) bool {
	if t, err := os.Readlink(host); err == nil && t == "/dev/null" {
		return true
	}
	fi, err := os.Stat(host)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == 0
}

// ValidRuleName reports whether name can name a ruleset (and appear in OOMRules=).
func ValidRuleName(name string) bool {
	if name == "" || name[0] == '.' || len(name) > 255 {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r == '/' || r == 0x7f || r == '\\' {
			return false
		}
	}
	return true
}

// ParseRule reads the [Rule] section of one ruleset file; nil, with the reason sent to warn
// (located at file and its [Rule] header, or line 1), when the ruleset cannot be used.
func ParseRule(name, file string, f *conf.File, warn func(error)) *Rule {
	r := &Rule{Name: name, MemoryPressureAbove: -1, SwapUsageMax: -1, File: file}
	loc := conf.Entry{Key: "[Rule]", File: file, Line: 1}
	badLasting := false
	for _, s := range f.Sections() {
		if s.Name != "Rule" {
			continue
		}
		loc.File, loc.Line = s.File, s.Line
		for _, e := range s.Entries {
			switch e.Key {
			case "MemoryPressureAbove":
				r.MemoryPressureAbove = -1
				conf.Set(&r.MemoryPressureAbove, e, permyriad, warn)
			case "SwapUsageMax":
				r.SwapUsageMax = -1
				conf.Set(&r.SwapUsageMax, e, permyriad, warn)
			case "Action":
				r.Action = ""
				var a string
				if conf.Set(&a, e, conf.Word(string(ActionKillAll), string(ActionKillByPgscan), string(ActionKillBySwap)), warn) {
					r.Action = Action(a)
				}
			case "LastingSec":
				r.Lasting, badLasting = 0, false
				if conf.Set(&r.Lasting, e, conf.Timespan, warn) && r.Lasting == conf.Infinity {
					badLasting = true
				}
			default:
				warn(e.Wrap(errors.New("unknown setting, ignoring")))
			}
		}
	}
	fail := func(msg string) *Rule {
		warn(loc.Wrap(fmt.Errorf("ruleset %q %s, ignoring", name, msg)))
		return nil
	}
	switch {
	case r.MemoryPressureAbove < 0 && r.SwapUsageMax < 0:
		return fail("has no condition (MemoryPressureAbove= or SwapUsageMax=)")
	case r.Action == "":
		return fail("has no Action=")
	case badLasting:
		return fail("has LastingSec=infinity, which never elapses")
	case r.MemoryPressureAbove >= permyriadMax:
		return fail("has MemoryPressureAbove=100%, which can never be exceeded")
	case r.SwapUsageMax >= permyriadMax:
		return fail("has SwapUsageMax=100%, which can never be exceeded")
	}
	return r
}
