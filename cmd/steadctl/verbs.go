package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Exit codes, as systemctl uses them (LSB).
const (
	exitOK           = 0
	exitFailure      = 1
	exitNotActive    = 3 // is-active, status: not active
	exitNoSuchUnit   = 4 // status, is-active, is-failed: unknown unit
	exitNotInstalled = 5 // start & co: no such unit file
)

// cli is one steadctl invocation: its options and where it writes.
type cli struct {
	opts   options
	c      *client
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
}

func (x *cli) errorf(format string, a ...any) {
	fmt.Fprintf(x.stderr, format+"\n", a...)
}

// run executes verb with args and returns the exit code.
func (x *cli) run(ctx context.Context, verb string, args []string) int {
	switch verb {
	case "list-units":
		return x.listUnits(ctx, args)
	case "status":
		return x.status(ctx, args)
	case "list-jobs":
		return x.listJobs(ctx)
	case "show":
		return x.show(ctx, args)
	case "is-active":
		return x.isState(ctx, args, exitNotActive, "active", "reloading")
	case "is-failed":
		return x.isState(ctx, args, exitFailure, "failed")
	case "start", "stop", "restart", "reload":
		return x.jobs(ctx, verb, args)
	case "poweroff", "reboot", "halt":
		if len(args) > 0 {
			x.errorf("%s takes no arguments", verb)
			return exitFailure
		}
		if err := x.c.shutdown(ctx, shutdownMethods[verb]); err != nil {
			x.errorf("Failed to %s: %v", verb, err)
			return exitFailure
		}
		return exitOK
	case "daemon-reload":
		if len(args) > 0 {
			x.errorf("daemon-reload takes no arguments")
			return exitFailure
		}
		if err := x.c.reload(ctx); err != nil {
			x.errorf("Failed to reload the manager: %v", err)
			return exitFailure
		}
		return exitOK
	}
	x.errorf("Unknown command verb '%s'.", verb)
	return exitFailure
}

func (x *cli) listUnits(ctx context.Context, patterns []string) int {
	units, err := x.c.units(ctx)
	if err != nil {
		x.errorf("Failed to list units: %v", err)
		return exitFailure
	}
	rows := listRows(units, listFilter{all: x.opts.all, patterns: patterns})
	if x.opts.json != "" {
		if rows == nil {
			rows = []listRow{}
		}
		err = writeJSON(x.stdout, rows, x.opts.json == "pretty")
	} else {
		err = writeTable(x.stdout, rows, !x.opts.noLegend, x.opts.all)
	}
	if err != nil {
		return exitFailure
	}
	return exitOK
}

func (x *cli) listJobs(ctx context.Context) int {
	jobs, err := x.c.jobs(ctx)
	if err != nil {
		x.errorf("Failed to list jobs: %v", err)
		return exitFailure
	}
	if x.opts.json != "" {
		if jobs == nil {
			jobs = []queuedJob{}
		}
		err = writeJSON(x.stdout, jobs, x.opts.json == "pretty")
	} else {
		err = writeJobs(x.stdout, jobs, !x.opts.noLegend)
	}
	if err != nil {
		return exitFailure
	}
	return exitOK
}

// fetch looks up each named unit; missing ones are reported by the caller.
func (x *cli) fetch(ctx context.Context, names []string) ([]*Unit, error) {
	out := make([]*Unit, len(names))
	for i, n := range names {
		u, ok, err := x.c.unit(ctx, n)
		if err != nil {
			return nil, err
		}
		if ok {
			out[i] = &u
		}
	}
	return out, nil
}

func (x *cli) status(ctx context.Context, args []string) int {
	if len(args) == 0 {
		x.errorf("status needs at least one unit name")
		return exitFailure
	}
	names := mangle(args)
	units, err := x.fetch(ctx, names)
	if err != nil {
		x.errorf("Failed to get unit status: %v", err)
		return exitFailure
	}
	code := exitOK
	var js []Unit
	for i, u := range units {
		if u == nil || (u.Runtime.LoadState == "not-found" && u.Runtime.ActiveState == "inactive") {
			x.errorf("Unit %s could not be found.", names[i])
			if code == exitOK { // as systemctl: the first unit's non-zero status wins
				code = exitNoSuchUnit
			}
			continue
		}
		if x.opts.json != "" {
			js = append(js, *u)
		} else {
			if i > 0 {
				fmt.Fprintln(x.stdout)
			}
			if err := writeStatus(x.stdout, u, x.opts.root, x.now()); err != nil {
				return exitFailure
			}
		}
		if u.Runtime.ActiveState != "active" && u.Runtime.ActiveState != "reloading" && code == exitOK {
			code = exitNotActive
		}
	}
	if x.opts.json != "" && js != nil {
		if err := writeJSON(x.stdout, js, x.opts.json == "pretty"); err != nil {
			return exitFailure
		}
	}
	return code
}

func (x *cli) show(ctx context.Context, args []string) int {
	if len(args) == 0 {
		x.errorf("show needs at least one unit name")
		return exitFailure
	}
	names := mangle(args)
	units, err := x.fetch(ctx, names)
	if err != nil {
		x.errorf("Failed to get properties: %v", err)
		return exitFailure
	}
	so := showOptions{props: x.opts.props, valueOnly: x.opts.value}
	var js []map[string]string
	for i, u := range units {
		if u == nil {
			// Like systemctl: an unknown unit shows as not-found and inactive.
			u = &Unit{Context: UnitContext{ID: names[i]}, Runtime: UnitRuntime{LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}}
		}
		ps := properties(u)
		if x.opts.json != "" {
			js = append(js, showJSON(ps, so))
			continue
		}
		if i > 0 && !x.opts.value {
			fmt.Fprintln(x.stdout)
		}
		if err := writeShow(x.stdout, ps, so); err != nil {
			return exitFailure
		}
	}
	if x.opts.json != "" {
		var v any = js
		if len(js) == 1 {
			v = js[0]
		}
		if err := writeJSON(x.stdout, v, x.opts.json == "pretty"); err != nil {
			return exitFailure
		}
	}
	return exitOK
}

// isState prints each unit's ActiveState and succeeds if any is in want;
// otherwise it returns 4 when none of the units exists, else fail.
func (x *cli) isState(ctx context.Context, args []string, fail int, want ...string) int {
	if len(args) == 0 {
		x.errorf("expected at least one unit name")
		return exitFailure
	}
	units, err := x.fetch(ctx, mangle(args))
	if err != nil {
		x.errorf("Failed to get unit state: %v", err)
		return exitFailure
	}
	code, notFound := fail, true
	for _, u := range units {
		state := "inactive"
		if u != nil {
			state = u.Runtime.ActiveState
			notFound = notFound && u.Runtime.LoadState == "not-found"
		}
		if !x.opts.quiet {
			fmt.Fprintln(x.stdout, state)
		}
		for _, w := range want {
			if state == w {
				code = exitOK
			}
		}
	}
	if code != exitOK && notFound {
		// As systemctl: LSB's "status unknown" when no unit file exists.
		return exitNoSuchUnit
	}
	return code
}

// shutdownMethods maps verbs to io.systemd.Manager methods.
var shutdownMethods = map[string]string{"poweroff": "PowerOff", "reboot": "Reboot", "halt": "Halt"}

// jobMethods maps verbs to io.stead.Manager methods.
var jobMethods = map[string]string{"start": "StartUnit", "stop": "StopUnit", "restart": "RestartUnit", "reload": "ReloadUnit"}

// jobs runs one job per unit, concurrently, and waits for all of them.
func (x *cli) jobs(ctx context.Context, verb string, args []string) int {
	if len(args) == 0 {
		x.errorf("%s needs at least one unit name", verb)
		return exitFailure
	}
	names := mangle(args)
	results := make([]jobResult, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = x.c.job(ctx, jobMethods[verb], n, x.opts.mode, x.opts.noBlock)
		}()
	}
	wg.Wait()
	code := exitOK
	for i, err := range errs {
		if err == nil {
			continue
		}
		c := x.jobError(verb, names[i], err)
		if code == exitOK {
			code = c
		}
	}
	if x.opts.json != "" {
		var ok []jobResult
		for i, r := range results {
			if errs[i] == nil {
				ok = append(ok, r)
			}
		}
		if ok == nil {
			ok = []jobResult{}
		}
		if err := writeJSON(x.stdout, ok, x.opts.json == "pretty"); err != nil {
			return exitFailure
		}
	}
	return code
}

// jobError explains why a job for name did not succeed and returns the
// exit code systemctl would.
func (x *cli) jobError(verb, name string, err error) int {
	switch varlinkErrorName(err) {
	case errJobNoSuchUnit:
		x.errorf("Failed to %s %s: Unit %s not found.", verb, name, name)
		return exitNotInstalled
	case errUnitNotLoaded:
		var p struct {
			LoadState string `json:"loadState"`
		}
		varlinkErrorParams(err, &p)
		reason := loadReason(name, p.LoadState)
		if reason == "" {
			reason = "Unit " + name + " is " + p.LoadState + "."
		}
		x.errorf("Failed to %s %s: %s", verb, name, reason)
		return exitNotInstalled
	case errJobNotSupported:
		x.errorf("Failed to %s %s: the unit does not support it in its current state.", verb, name)
		return exitFailure
	case errJobConflict:
		x.errorf("Failed to %s %s: another job for the unit is queued.", verb, name)
		return exitFailure
	case errJobFailed:
		var p struct {
			Result string `json:"result"`
		}
		varlinkErrorParams(err, &p)
		if p.Result == "assert" {
			x.errorf("Assertion failed on job for %s.", name)
			return exitFailure
		}
		x.errorf("Job for %s failed (result: %s).\nSee \"steadctl status %s\" for details.", name, p.Result, name)
		return exitFailure
	}
	x.errorf("Failed to %s %s: %v", verb, name, err)
	return exitFailure
}

// mangle completes unit names without a type suffix to .service, as
// systemctl does.
func mangle(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if !strings.Contains(n, ".") || !knownSuffix(n) {
			n += ".service"
		}
		out[i] = n
	}
	return out
}

func knownSuffix(n string) bool {
	for _, s := range []string{".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount",
		".swap", ".device", ".slice", ".scope"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}
