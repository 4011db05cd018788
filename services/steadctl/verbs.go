// Package steadctl is the logic of steadctl, stead's systemctl: it lists units, shows their
// status and properties, starts, stops, restarts and reloads them, lists the job queue and
// reloads or shuts down the manager — over Varlink only, through lib/api's typed clients of
// io.systemd.Unit, io.systemd.Job, io.systemd.Manager and io.stead.Manager on
// /run/systemd/io.systemd.Manager. Listing and showing also work against upstream systemd
// 262. cmd/steadctl maps the command line to Options. See docs/steadctl.md.
package steadctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/stead-os/stead/lib/api/iosteadmanager"
	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

// Exit codes, as systemctl uses them (LSB).
const (
	ExitOK           = 0
	ExitFailure      = 1
	ExitNotActive    = 3 // is-active, status: not active
	ExitNoSuchUnit   = 4 // status, is-active, is-failed: unknown unit
	ExitNotInstalled = 5 // start & co: no such unit file
)

// Options are steadctl's settings: its command-line options and where it writes.
type Options struct {
	Root     string         // the manager's sockets and /proc are under Root ("" or "/": the real root)
	All      bool           // list-units: include inactive units
	Props    []string       // show: only these properties
	Value    bool           // show: values only
	JSON     string         // "", "pretty" or "short"
	Mode     string         // start & co: the job mode ("": the manager's default)
	NoBlock  bool           // start & co: return once the job is queued
	Quiet    bool           // is-active, is-failed: print nothing
	NoLegend bool           // list-units, list-jobs, list-fdstore: no header, legend or count
	What     []string       // clean: what to clean (--what=, comma-separated; only fdstore)
	Install  InstallOptions // enable & co (install.go)

	Stdout, Stderr io.Writer
	Now            func() time.Time // nil: time.Now
}

// Run executes verb with its arguments and returns the exit code, as systemctl's: 0, 1 on
// failure, 3 for a unit that is not active, 4 for an unknown unit, 5 for a job on a unit
// that cannot be loaded.
func Run(ctx context.Context, o Options, verb string, args []string) int {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Root == "" {
		o.Root = "/"
	}
	x := &ctl{opts: o, c: newClient(o.Root), stdout: o.Stdout, stderr: o.Stderr, now: o.Now}
	return x.run(ctx, verb, args)
}

// ctl is one steadctl invocation: its options and where it writes.
type ctl struct {
	opts   Options
	c      *client
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
}

func (x *ctl) errorf(format string, a ...any) {
	fmt.Fprintf(x.stderr, format+"\n", a...)
}

// run executes verb with args and returns the exit code.
func (x *ctl) run(ctx context.Context, verb string, args []string) int {
	switch verb {
	case "list-units":
		return x.listUnits(ctx, args)
	case "status":
		return x.status(ctx, args)
	case "list-jobs":
		return x.listJobs(ctx)
	case "list-timers":
		return x.listTimers(ctx, args) // timers.go
	case "list-fdstore":
		return x.listFDStore(ctx, args)
	case "clean":
		return x.clean(ctx, args)
	case "show":
		return x.show(ctx, args)
	case "is-active":
		return x.isState(ctx, args, ExitNotActive, "active", "reloading")
	case "is-failed":
		return x.isState(ctx, args, ExitFailure, "failed")
	case "start", "stop", "restart", "reload":
		return x.jobs(ctx, verb, args)
	case "isolate":
		return x.isolate(ctx, args)
	case "daemon-reexec":
		return x.reexec(ctx, args)
	case "poweroff", "reboot", "halt", "soft-reboot", "kexec":
		if len(args) > 0 {
			x.errorf("%s takes no arguments", verb)
			return ExitFailure
		}
		if err := x.c.shutdown(ctx, verb); err != nil {
			x.errorf("Failed to %s: %v", verb, err)
			return ExitFailure
		}
		return ExitOK
	case "daemon-reload":
		if len(args) > 0 {
			x.errorf("daemon-reload takes no arguments")
			return ExitFailure
		}
		if err := x.c.reload(ctx); err != nil {
			x.errorf("Failed to reload the manager: %v", err)
			return ExitFailure
		}
		return ExitOK
	}
	if code, ok := x.installVerb(ctx, verb, args); ok {
		return code
	}
	x.errorf("Unknown command verb '%s'.", verb)
	return ExitFailure
}

func (x *ctl) listUnits(ctx context.Context, patterns []string) int {
	units, err := x.c.units(ctx)
	if err != nil {
		x.errorf("Failed to list units: %v", err)
		return ExitFailure
	}
	rows := listRows(units, listFilter{all: x.opts.All, patterns: patterns})
	if x.opts.JSON != "" {
		if rows == nil {
			rows = []listRow{}
		}
		err = writeJSON(x.stdout, rows, x.opts.JSON == "pretty")
	} else {
		err = writeTable(x.stdout, rows, !x.opts.NoLegend, x.opts.All)
	}
	if err != nil {
		return ExitFailure
	}
	return ExitOK
}

func (x *ctl) listJobs(ctx context.Context) int {
	jobs, err := x.c.jobs(ctx)
	if err != nil {
		x.errorf("Failed to list jobs: %v", err)
		return ExitFailure
	}
	if x.opts.JSON != "" {
		if jobs == nil {
			jobs = []queuedJob{}
		}
		err = writeJSON(x.stdout, jobs, x.opts.JSON == "pretty")
	} else {
		err = writeJobs(x.stdout, jobs, !x.opts.NoLegend)
	}
	if err != nil {
		return ExitFailure
	}
	return ExitOK
}

// fetch looks up each named unit; missing ones are reported by the caller.
func (x *ctl) fetch(ctx context.Context, names []string) ([]*iosystemdunit.Unit, error) {
	out := make([]*iosystemdunit.Unit, len(names))
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

func (x *ctl) status(ctx context.Context, args []string) int {
	if len(args) == 0 {
		x.errorf("status needs at least one unit name")
		return ExitFailure
	}
	names := mangle(args)
	units, err := x.fetch(ctx, names)
	if err != nil {
		x.errorf("Failed to get unit status: %v", err)
		return ExitFailure
	}
	code := ExitOK
	var js []iosystemdunit.Unit
	for i, u := range units {
		if u == nil || (u.Runtime.LoadState == "not-found" && u.Runtime.ActiveState == "inactive") {
			x.errorf("Unit %s could not be found.", names[i])
			if code == ExitOK { // as systemctl: the first unit's non-zero status wins
				code = ExitNoSuchUnit
			}
			continue
		}
		if x.opts.JSON != "" {
			js = append(js, *u)
		} else {
			if i > 0 {
				fmt.Fprintln(x.stdout)
			}
			if err := writeStatus(x.stdout, u, x.opts.Root, x.now()); err != nil {
				return ExitFailure
			}
			if ws, err := x.c.warnings(ctx, u.Context.ID); err == nil {
				writeWarnings(x.stdout, ws)
			}
		}
		if u.Runtime.ActiveState != "active" && u.Runtime.ActiveState != "reloading" && code == ExitOK {
			code = ExitNotActive
		}
	}
	if x.opts.JSON != "" && js != nil {
		if err := writeJSON(x.stdout, js, x.opts.JSON == "pretty"); err != nil {
			return ExitFailure
		}
	}
	return code
}

func (x *ctl) show(ctx context.Context, args []string) int {
	if len(args) == 0 {
		x.errorf("show needs at least one unit name")
		return ExitFailure
	}
	names := mangle(args)
	units, err := x.fetch(ctx, names)
	if err != nil {
		x.errorf("Failed to get properties: %v", err)
		return ExitFailure
	}
	so := showOptions{props: x.opts.Props, valueOnly: x.opts.Value}
	var js []map[string]string
	for i, u := range units {
		if u == nil {
			// Like systemctl: an unknown unit shows as not-found and inactive.
			u = &iosystemdunit.Unit{Context: iosystemdunit.UnitContext{ID: names[i]},
				Runtime: iosystemdunit.UnitRuntime{LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}}
		}
		ps := properties(u)
		if x.opts.JSON != "" {
			js = append(js, showJSON(ps, so))
			continue
		}
		if i > 0 && !x.opts.Value {
			fmt.Fprintln(x.stdout)
		}
		if err := writeShow(x.stdout, ps, so); err != nil {
			return ExitFailure
		}
	}
	if x.opts.JSON != "" {
		var v any = js
		if len(js) == 1 {
			v = js[0]
		}
		if err := writeJSON(x.stdout, v, x.opts.JSON == "pretty"); err != nil {
			return ExitFailure
		}
	}
	return ExitOK
}

// isState prints each unit's ActiveState and succeeds if any is in want;
// otherwise it returns 4 when none of the units exists, else fail.
func (x *ctl) isState(ctx context.Context, args []string, fail int, want ...string) int {
	if len(args) == 0 {
		x.errorf("expected at least one unit name")
		return ExitFailure
	}
	units, err := x.fetch(ctx, mangle(args))
	if err != nil {
		x.errorf("Failed to get unit state: %v", err)
		return ExitFailure
	}
	code, notFound := fail, true
	for _, u := range units {
		state := "inactive"
		if u != nil {
			state = u.Runtime.ActiveState
			notFound = notFound && u.Runtime.LoadState == "not-found"
		}
		if !x.opts.Quiet {
			fmt.Fprintln(x.stdout, state)
		}
		for _, w := range want {
			if state == w {
				code = ExitOK
			}
		}
	}
	if code != ExitOK && notFound {
		// As systemctl: LSB's "status unknown" when no unit file exists.
		return ExitNoSuchUnit
	}
	return code
}

// jobs runs one job per unit, concurrently, and waits for all of them.
func (x *ctl) jobs(ctx context.Context, verb string, args []string) int {
	if len(args) == 0 {
		x.errorf("%s needs at least one unit name", verb)
		return ExitFailure
	}
	names := mangle(args)
	results := make([]iosteadmanager.JobReply, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = x.c.job(ctx, verb, n, iosteadmanager.JobOptions{
				Mode: iosteadmanager.JobMode(x.opts.Mode), NoBlock: x.opts.NoBlock})
		}()
	}
	wg.Wait()
	code := ExitOK
	for i, err := range errs {
		if err == nil {
			continue
		}
		c := x.jobError(verb, names[i], err)
		if code == ExitOK {
			code = c
		}
	}
	if x.opts.JSON != "" {
		var ok []iosteadmanager.JobReply
		for i, r := range results {
			if errs[i] == nil {
				ok = append(ok, r)
			}
		}
		if ok == nil {
			ok = []iosteadmanager.JobReply{}
		}
		if err := writeJSON(x.stdout, ok, x.opts.JSON == "pretty"); err != nil {
			return ExitFailure
		}
	}
	return code
}

// jobError explains why a job for name did not succeed and returns the
// exit code systemctl would.
func (x *ctl) jobError(verb, name string, err error) int {
	var (
		noSuchUnit   *iosteadmanager.NoSuchUnit
		unloaded     *iosteadmanager.UnitNotLoaded
		notSupported *iosteadmanager.JobNotSupported
		conflict     *iosteadmanager.JobConflict
		failed       *iosteadmanager.JobFailed
		refused      *iosteadmanager.OperationRefused
	)
	switch {
	case errors.As(err, &noSuchUnit):
		x.errorf("Failed to %s %s: Unit %s not found.", verb, name, name)
		return ExitNotInstalled
	case errors.As(err, &unloaded):
		reason := loadReason(name, unloaded.LoadState)
		if reason == "" {
			reason = "Unit " + name + " is " + unloaded.LoadState + "."
		}
		x.errorf("Failed to %s %s: %s", verb, name, reason)
		return ExitNotInstalled
	case errors.As(err, &notSupported):
		x.errorf("Failed to %s %s: the unit does not support it in its current state.", verb, name)
		return ExitFailure
	case errors.As(err, &refused):
		x.errorf("Failed to %s %s: %s.", verb, name, capitalize(refused.Reason))
		return ExitFailure
	case errors.As(err, &conflict):
		x.errorf("Failed to %s %s: another job for the unit is queued.", verb, name)
		return ExitFailure
	case errors.As(err, &failed):
		if failed.Result == "assert" {
			x.errorf("Assertion failed on job for %s.", name)
			return ExitFailure
		}
		x.errorf("Job for %s failed (result: %s).\nSee \"steadctl status %s\" for details.", name, failed.Result, name)
		return ExitFailure
	}
	x.errorf("Failed to %s %s: %v", verb, name, err)
	return ExitFailure
}

// isolate starts one unit (a target when no suffix is given, as systemctl
// does) and stops every unit it does not pull in.
func (x *ctl) isolate(ctx context.Context, args []string) int {
	if len(args) != 1 {
		x.errorf("isolate needs exactly one unit name")
		return ExitFailure
	}
	name := args[0]
	if !knownSuffix(name) {
		name += ".target"
	}
	r, err := x.c.job(ctx, "start", name, iosteadmanager.JobOptions{Mode: iosteadmanager.JobMode("isolate"), NoBlock: x.opts.NoBlock})
	if err != nil {
		return x.jobError("isolate", name, err)
	}
	if x.opts.JSON != "" {
		if err := writeJSON(x.stdout, []iosteadmanager.JobReply{r}, x.opts.JSON == "pretty"); err != nil {
			return ExitFailure
		}
	}
	return ExitOK
}

// capitalize upper-cases the first letter of a message.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
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
