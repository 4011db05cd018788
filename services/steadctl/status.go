package steadctl

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

// statusMark is the symbol before a unit's name: ● active or changing,
// × failed, ○ inactive.
func statusMark(active string) string {
	switch active {
	case "failed":
		return "×"
	case "inactive":
		return "○"
	}
	return "●"
}

// writeStatus prints the status block of one unit: name and description,
// where it was loaded from, its state since when, and its processes. root
// is where /proc is read for process names.
func writeStatus(w io.Writer, u *iosystemdunit.Unit, root string, now time.Time) error {
	c, r := &u.Context, &u.Runtime
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", statusMark(r.ActiveState), c.ID)
	if c.Description != "" {
		fmt.Fprintf(&b, " - %s", c.Description)
	}
	b.WriteString("\n")

	loaded := r.LoadState
	if reason := loadReason(c.ID, r.LoadState); reason != "" && r.LoadState != "not-found" {
		loaded += " (Reason: " + reason + ")"
	} else if c.FragmentPath != "" {
		loaded += " (" + c.FragmentPath + ")"
	}
	fmt.Fprintf(&b, "%12s %s\n", "Loaded:", loaded)
	if len(c.DropInPaths) > 0 {
		fmt.Fprintf(&b, "%12s %s\n", "Drop-In:", strings.Join(c.DropInPaths, ", "))
	}

	active := r.ActiveState
	if r.SubState != "" && r.SubState != r.ActiveState {
		active += " (" + r.SubState + ")"
	}
	if r.ActiveState == "failed" && r.Service != nil && serviceResult(r.Service) != "success" {
		active += " (Result: " + serviceResult(r.Service) + ")"
	}
	if since := sinceStamp(r); !since.IsZero() {
		active += " since " + formatTime(since) + "; " + formatAgo(since, now)
	}
	fmt.Fprintf(&b, "%12s %s\n", "Active:", active)
	// As systemctl: the last start was skipped or refused by a check.
	if !r.ConditionResult && r.ConditionTimestamp != nil {
		t := r.ConditionTimestamp.Time()
		fmt.Fprintf(&b, "%12s start condition unmet at %s; %s\n", "Condition:", formatTime(t), formatAgo(t, now))
	} else if !r.AssertResult && r.AssertTimestamp != nil {
		t := r.AssertTimestamp.Time()
		fmt.Fprintf(&b, "%12s start assertion failed at %s; %s\n", "Assert:", formatTime(t), formatAgo(t, now))
	}
	if r.InvocationID != "" {
		fmt.Fprintf(&b, "%12s %s\n", "Invocation:", r.InvocationID)
	}
	if s := r.Service; s != nil {
		if mainPID := pid(s.MainPID); mainPID != 0 {
			fmt.Fprintf(&b, "%12s %d%s\n", "Main PID:", mainPID, procName(root, int(mainPID)))
		} else if e := s.ExecMain; e != nil && e.PID.PID != 0 && codeName(e) != "" {
			fmt.Fprintf(&b, "%12s %d (code=%s, status=%s)\n", "Main PID:", e.PID.PID, codeName(e), exitStatusText(codeName(e), deref(e.Status)))
		}
		if s.NRestarts > 0 {
			fmt.Fprintf(&b, "%12s %d\n", "Restarts:", s.NRestarts)
		}
		if s.StatusText != "" {
			fmt.Fprintf(&b, "%12s \"%s\"\n", "Status:", s.StatusText)
		}
	}
	if r.CGroup != nil && r.CGroup.Path != "" {
		fmt.Fprintf(&b, "%12s %s\n", "CGroup:", r.CGroup.Path)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeWarnings lists what the manager reported about the unit's files (unknown keys,
// unsupported settings, bad values), where systemctl shows the unit's log lines.
func writeWarnings(w io.Writer, warnings []string) {
	for i, m := range warnings {
		label := ""
		if i == 0 {
			label = "Warnings:"
		}
		fmt.Fprintf(w, "%12s %s\n", label, m)
	}
}

// sinceStamp is when the unit entered its current state.
func sinceStamp(r *iosystemdunit.UnitRuntime) time.Time {
	switch r.ActiveState {
	case "active", "reloading":
		return r.ActiveEnterTimestamp.Time()
	case "inactive", "failed":
		return r.InactiveEnterTimestamp.Time()
	case "activating":
		return r.InactiveExitTimestamp.Time()
	case "deactivating":
		return r.ActiveExitTimestamp.Time()
	}
	return r.StateChangeTimestamp.Time()
}

// exitStatusText is "1/FAILURE"-like: the number, and a name for the
// well-known exit statuses and for signals.
func exitStatusText(code string, status int) string {
	if code == "killed" || code == "dumped" {
		if name, ok := signalNames[status]; ok {
			return strconv.Itoa(status) + "/" + name
		}
		return strconv.Itoa(status)
	}
	switch status {
	case 0:
		return "0/SUCCESS"
	case 1:
		return "1/FAILURE"
	case 2:
		return "2/INVALIDARGUMENT"
	case 3:
		return "3/NOTIMPLEMENTED"
	case 4:
		return "4/NOPERMISSION"
	case 5:
		return "5/NOTINSTALLED"
	case 6:
		return "6/NOTCONFIGURED"
	case 7:
		return "7/NOTRUNNING"
	}
	return strconv.Itoa(status)
}

// signalNames are the signals a service most often dies of.
var signalNames = map[int]string{int(syscall.SIGTERM): "TERM", int(syscall.SIGKILL): "KILL",
	int(syscall.SIGINT): "INT", int(syscall.SIGHUP): "HUP", int(syscall.SIGSEGV): "SEGV",
	int(syscall.SIGABRT): "ABRT", int(syscall.SIGPIPE): "PIPE", int(syscall.SIGUSR1): "USR1",
	int(syscall.SIGUSR2): "USR2", int(syscall.SIGQUIT): "QUIT", int(syscall.SIGBUS): "BUS"}

// procName is " (comm)" for a process, read from the root's /proc, or "".
func procName(root string, pid int) string {
	b, err := os.ReadFile(filepath.Join(root, "proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return " (" + strings.TrimSpace(string(b)) + ")"
}
