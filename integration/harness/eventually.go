package harness

import (
	"strings"
	"testing"
	"time"
)

// Polling intervals of Poll and Eventually: the first check is immediate, then the interval
// doubles from pollMin up to pollMax.
const (
	pollMin = 10 * time.Millisecond
	pollMax = 100 * time.Millisecond
)

// Poll calls cond until it returns true or timeout has passed, and reports whether it did.
// cond runs in the caller's goroutine (it may call t.Fatal); it is called at least once, and
// once more after the deadline passed while it was sleeping, so a slow cond is not cut short.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	wait := pollMin
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, pollMax)
	}
}

// Eventually polls cond until it returns true and fails the test (t.Fatalf) if it has not
// after timeout: "timed out after TIMEOUT waiting for WHAT", followed by what each extra
// returns (a daemon's log, the last value seen; see Output). cond runs in the caller's
// goroutine.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool, extra ...func() string) {
	t.Helper()
	if Poll(timeout, cond) {
		return
	}
	t.Fatalf("timed out after %v waiting for %s%s", timeout, what, extras(extra))
}

// Output is an extra for Eventually (and a daemon's failure messages): "\nNAME:\nCONTENT"
// with the buffer's content at the time of the failure, e.g. Output("init log", log).
func Output(name string, b interface{ String() string }) func() string {
	return func() string { return name + ":\n" + b.String() }
}

func extras(extra []func() string) string {
	var b strings.Builder
	for _, f := range extra {
		if f == nil {
			continue
		}
		if s := f(); s != "" {
			b.WriteString("\n")
			b.WriteString(s)
		}
	}
	return b.String()
}
