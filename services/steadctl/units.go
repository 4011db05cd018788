package steadctl

import (
	"strings"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

// What steadctl reads from io.systemd.Unit.List replies (lib/api/iosystemdunit's types, with
// upstream's field names, so the same decoding works against stead's init and systemd 262).

// description is what lists show: the Description=, or the name.
func description(u *iosystemdunit.Unit) string {
	if u.Context.Description != "" {
		return u.Context.Description
	}
	return u.Context.ID
}

// serviceResult is the service's result as systemctl prints it (exit-code); the wire's
// ServiceResult values are spelled with underscores (exit_code).
func serviceResult(s *iosystemdunit.ServiceRuntime) string { return wireResult(s.Result) }

// wireResult spells a result of the IDL (exit_code) as systemctl shows it (exit-code);
// absent is success.
func wireResult(r string) string {
	if r == "" {
		return "success"
	}
	return strings.ReplaceAll(r, "_", "-")
}

// codeName is the name of the CLD_* code a process ended with: exited, killed, dumped; ""
// while it runs.
func codeName(e *iosystemdunit.ExecCommandStatus) string {
	switch deref(e.Code) {
	case 1:
		return "exited"
	case 2:
		return "killed"
	case 3:
		return "dumped"
	}
	return ""
}

// pid is the process's ID, 0 for none.
func pid(p *iosystemdunit.ProcessId) int64 {
	if p == nil {
		return 0
	}
	return p.PID
}
