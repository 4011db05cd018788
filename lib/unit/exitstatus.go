package unit

import (
	"strconv"
	"strings"

	"github.com/stead-os/stead/lib/conf"
)

// ExitStatusSet is the value of SuccessExitStatus=, RestartPreventExitStatus=
// and RestartForceExitStatus=: exit statuses (0–255) and termination signals.
type ExitStatusSet struct {
	Status []int // exit statuses
	Signal []int // signal numbers
}

// Empty reports whether the set lists nothing.
func (s ExitStatusSet) Empty() bool { return len(s.Status) == 0 && len(s.Signal) == 0 }

// HasStatus reports whether exit status n is in the set.
func (s ExitStatusSet) HasStatus(n int) bool {
	for _, v := range s.Status {
		if v == n {
			return true
		}
	}
	return false
}

// HasSignal reports whether a death by signal sig is in the set.
func (s ExitStatusSet) HasSignal(sig int) bool {
	for _, v := range s.Signal {
		if v == sig {
			return true
		}
	}
	return false
}

// exitStatusNames are the symbolic exit statuses the settings take, the
// names of systemd.exec(5)'s table without the EXIT_/EX_ prefix: the LSB
// init script statuses and the BSD sysexits.h ones.
var exitStatusNames = map[string]int{
	"SUCCESS": 0, "FAILURE": 1, "INVALIDARGUMENT": 2, "NOTIMPLEMENTED": 3,
	"NOPERMISSION": 4, "NOTINSTALLED": 5, "NOTCONFIGURED": 6, "NOTRUNNING": 7,
	"USAGE": 64, "DATAERR": 65, "NOINPUT": 66, "NOUSER": 67, "NOHOST": 68,
	"UNAVAILABLE": 69, "SOFTWARE": 70, "OSERR": 71, "OSFILE": 72, "CANTCREAT": 73,
	"IOERR": 74, "TEMPFAIL": 75, "PROTOCOL": 76, "NOPERM": 77, "CONFIG": 78,
}

// exitStatusSet reads a [Service] list of exit statuses and signal names.
// Assignments add up; an empty one resets the set. A word that is neither a
// status (number or name) nor a signal name is reported and skipped.
func (u *Unit) exitStatusSet(key string, report func(error)) ExitStatusSet {
	var out ExitStatusSet
	for _, e := range u.File.Entries("Service", key) {
		if e.Value == "" {
			out = ExitStatusSet{}
			continue
		}
		v, ok := u.expand(e, report)
		if !ok {
			continue
		}
		for _, w := range strings.Fields(v) {
			if n, err := strconv.Atoi(w); err == nil {
				if n < 0 || n > 255 {
					report(e.Wrap(&conf.ValueError{Type: "exit status", Value: w, Reason: "out of range 0…255"}))
				} else if !out.HasStatus(n) {
					out.Status = append(out.Status, n)
				}
				continue
			}
			if n, ok := exitStatusNames[w]; ok {
				if !out.HasStatus(n) {
					out.Status = append(out.Status, n)
				}
				continue
			}
			sig, err := SignalNumber(w)
			if err != nil {
				report(e.Wrap(&conf.ValueError{Type: "exit status or signal", Value: w}))
				continue
			}
			if !out.HasSignal(sig) {
				out.Signal = append(out.Signal, sig)
			}
		}
	}
	return out
}
