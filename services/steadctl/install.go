package steadctl

// The unit file verbs — enable, disable, reenable, preset, preset-all,
// mask, unmask, is-enabled — as systemctl runs them client-side: the
// symlinks are written by lib/unit's Installer below --root, then a
// running manager (its socket under the same root) is asked to reload,
// and with --now to start or stop the units.

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"syscall"

	"github.com/stead-os/stead/lib/unit"
)

// InstallOptions are the options of the unit file verbs.
type InstallOptions struct {
	Runtime    bool   // --runtime: change /run/systemd/system
	Force      bool   // --force: replace conflicting symlinks
	Now        bool   // --now: start (enable) or stop (disable, mask) the units too
	NoReload   bool   // --no-reload: do not ask the manager to reload
	PresetMode string // --preset-mode=full|enable-only|disable-only
	Full       bool   // is-enabled -l: list the unit's links
}

// installVerb runs one of the unit file verbs; ok is false for other verbs.
func (x *ctl) installVerb(ctx context.Context, verb string, args []string) (code int, ok bool) {
	in := &unit.Installer{Root: x.opts.Root, Runtime: x.opts.Install.Runtime, Force: x.opts.Install.Force,
		Warn: func(err error) { x.errorf("%v", err) }}
	switch verb {
	case "is-enabled":
		return x.isEnabled(in, args), true
	case "enable", "disable", "reenable", "preset", "mask", "unmask":
		if len(args) == 0 {
			x.errorf("Too few arguments.")
			return ExitFailure, true
		}
		return x.changeUnitFiles(ctx, in, verb, args), true
	case "preset-all":
		if len(args) > 0 {
			x.errorf("Too many arguments.")
			return ExitFailure, true
		}
		return x.changeUnitFiles(ctx, in, verb, nil), true
	}
	return 0, false
}

// mangleInstall completes names as mangle does, keeping absolute paths
// (enable and reenable take unit file paths).
func mangleInstall(verb string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "/") && (verb == "enable" || verb == "reenable"):
			out[i] = path.Clean(a)
		case strings.Contains(a, "/"):
			out[i] = mangle([]string{path.Base(a)})[0]
		default:
			out[i] = mangle([]string{a})[0]
		}
	}
	return out
}

func (x *ctl) changeUnitFiles(ctx context.Context, in *unit.Installer, verb string, args []string) int {
	o := x.opts.Install
	if o.Now && verb != "enable" && verb != "disable" && verb != "reenable" && verb != "mask" && verb != "unmask" {
		x.errorf("--now can only be used with verb enable, disable, reenable, mask, or unmask.")
		return ExitFailure
	}
	names := mangleInstall(verb, args)
	var (
		cs      unit.Changes
		carries = true
		err     error
	)
	switch verb {
	case "enable":
		cs, carries, err = in.Enable(names)
	case "disable":
		cs, carries, err = in.Disable(names)
	case "reenable":
		cs, carries, err = in.Reenable(names)
	case "preset":
		cs, err = in.Preset(names, unit.PresetMode(x.presetMode()))
	case "preset-all":
		cs, err = in.PresetAll(unit.PresetMode(x.presetMode()))
	case "mask":
		cs, err = in.Mask(names)
	case "unmask":
		cs, err = in.Unmask(names)
	}
	msgVerb := verb
	if verb == "preset-all" {
		msgVerb = "preset all" // as systemctl words it
	}
	logged := x.dumpChanges(in, msgVerb, cs)
	if err != nil {
		if !logged {
			x.errorf("Failed to %s: %s.", verb, errText(err))
		}
		return ExitFailure
	}
	if !carries && !x.opts.Quiet {
		x.errorf("%s", noInstallInfo)
	}
	// A running manager re-reads the unit files, as systemctl's
	// daemon-reload after a change; none running is not an error.
	running := x.managerRunning(ctx)
	if running && !o.NoReload {
		if err := x.c.reload(ctx); err != nil {
			x.errorf("Failed to reload daemon: %v", err)
			return ExitFailure
		}
	}
	if !o.Now {
		return ExitOK
	}
	if !running {
		x.errorf("--now cannot be used when the manager is not running, refusing.")
		return ExitFailure
	}
	jobVerb := "start"
	switch verb {
	case "disable", "mask":
		jobVerb = "stop"
	case "reenable":
		jobVerb = "restart"
	}
	var units []string
	for _, n := range names {
		n = path.Base(n)
		if strings.Contains(n, "@.") {
			continue // a template cannot be started; its instances are named
		}
		units = append(units, n)
	}
	if len(units) == 0 {
		return ExitOK
	}
	return x.jobs(ctx, jobVerb, units)
}

func (x *ctl) presetMode() string {
	if m := x.opts.Install.PresetMode; m != "" {
		return m
	}
	return string(unit.PresetFull)
}

// managerRunning reports whether a manager answers on its socket.
func (x *ctl) managerRunning(ctx context.Context) bool {
	_, err := x.c.jobs(ctx)
	return err == nil
}

// noInstallInfo is systemctl's explanation for enabling a unit without
// [Install] rules.
const noInstallInfo = `The unit files have no installation config (WantedBy=, RequiredBy=, UpheldBy=,
Also=, or Alias= settings in the [Install] section, and DefaultInstance= for
template units). This means they are not meant to be enabled or disabled using systemctl.
 
Possible reasons for having these kinds of units are:
• A unit may be statically enabled by being symlinked from another unit's
  .wants/, .requires/, or .upholds/ directory.
• A unit's purpose may be to act as a helper for some other unit which has
  a requirement dependency on it.
• A unit may be started when needed via activation (socket, path, timer,
  D-Bus, udev, scripted systemctl call, ...).
• In case of template units, the unit is meant to be enabled with some
  instance name specified.`

// dumpChanges prints the changes as systemctl does (on stderr); it
// reports whether an error was among them.
func (x *ctl) dumpChanges(in *unit.Installer, verb string, cs unit.Changes) (errorLogged bool) {
	for _, c := range cs {
		p := in.Display(c.Path)
		switch c.Type {
		case unit.ChangeSymlink:
			if !x.opts.Quiet {
				x.errorf("Created symlink '%s' → '%s'.", p, c.Source)
			}
		case unit.ChangeUnlink:
			if !x.opts.Quiet {
				x.errorf("Removed '%s'.", p)
			}
		case unit.ChangeIsMasked:
			if !x.opts.Quiet {
				x.errorf("Unit %s is masked, ignoring.", p)
			}
		case unit.ChangeIsDangling:
			if !x.opts.Quiet {
				x.errorf("Unit %s is an alias to a unit that is not present, ignoring.", p)
			}
		case unit.ChangeDestinationNotPresent:
			if !x.opts.Quiet {
				x.errorf("Unit %s is added as a dependency to a non-existent unit %s.", in.Display(c.Source), c.Path)
			}
		case unit.ChangeAuxiliaryFailed:
			if !x.opts.Quiet {
				x.errorf("Failed to enable auxiliary unit %s, ignoring.", c.Path)
			}
		case unit.ChangeError:
			x.errorf("Failed to %s unit: %s", verb, changeErrorText(in, c))
			errorLogged = true
		}
	}
	return errorLogged
}

// changeErrorText words an error change as systemctl 262 does.
func changeErrorText(in *unit.Installer, c unit.Change) string {
	p := c.Path
	if strings.HasPrefix(p, "/") {
		p = in.Display(p)
	}
	switch c.Err {
	case syscall.EEXIST:
		if c.Source != "" {
			return fmt.Sprintf("File '%s' already exists and is a symlink to %s", p, c.Source)
		}
		return fmt.Sprintf("File '%s' already exists", p)
	case syscall.ERFKILL:
		return fmt.Sprintf("Unit %s is masked", p)
	case syscall.EADDRNOTAVAIL:
		return fmt.Sprintf("Unit %s is transient or generated", p)
	case syscall.ETXTBSY:
		return fmt.Sprintf("File %s is under the systemd unit hierarchy already", p)
	case syscall.EBADSLT:
		return fmt.Sprintf("Invalid specifier in unit %s", p)
	case syscall.EIDRM:
		return fmt.Sprintf("Refusing to operate on template unit %s when destination unit %s is a non-template unit", c.Source, p)
	case syscall.EUCLEAN:
		return fmt.Sprintf("Invalid unit name %s", p)
	case syscall.ELOOP:
		return fmt.Sprintf("Refusing to operate on linked unit file %s", p)
	case syscall.EXDEV:
		if c.Source != "" {
			return fmt.Sprintf("Cannot alias %s as %s", c.Source, p)
		}
		return fmt.Sprintf("Invalid unit reference %s", p)
	case syscall.ENOENT:
		return fmt.Sprintf("Unit %s does not exist", p)
	case syscall.ENOLINK:
		return fmt.Sprintf("Unit %s is an unresolvable alias", p)
	}
	return fmt.Sprintf("%s: %s", p, errText(c.Err))
}

// errText is strerror's wording with a capital letter, as systemd's %m.
func errText(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		s := e.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

// isEnabled prints each unit's file state; it succeeds if any counts as
// enabled, and returns 4 when none of the names has a unit file.
func (x *ctl) isEnabled(in *unit.Installer, args []string) int {
	if len(args) == 0 {
		x.errorf("Too few arguments.")
		return ExitFailure
	}
	enabled, notFound := false, true
	for _, n := range mangleInstall("is-enabled", args) {
		state, err := in.State(n)
		if errors.Is(err, unit.ErrNoUnitFile) {
			if !x.opts.Quiet {
				fmt.Fprintln(x.stdout, "not-found")
			}
			continue
		}
		if err != nil {
			x.errorf("Failed to get unit file state for %s: %s", n, errText(err))
			return ExitFailure
		}
		notFound = false
		enabled = enabled || unit.StateCountsAsEnabled(state)
		if x.opts.Quiet {
			continue
		}
		fmt.Fprintln(x.stdout, state)
		if x.opts.Install.Full {
			cs, err := in.Links(n)
			if err != nil {
				x.errorf("Failed to get file links for %s: %s", n, errText(err))
				return ExitFailure
			}
			for _, c := range cs {
				if c.Type == unit.ChangeUnlink {
					fmt.Fprintf(x.stdout, "  %s\n", in.Display(c.Path))
				}
			}
		}
	}
	switch {
	case enabled:
		return ExitOK
	case notFound:
		return ExitNoSuchUnit
	}
	return ExitFailure
}
