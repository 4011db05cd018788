package notify

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// Environment variables through which the manager announces a watchdog.
const (
	EnvWatchdogUsec = "WATCHDOG_USEC"
	EnvWatchdogPID  = "WATCHDOG_PID"
)

// WatchdogEnabled reports the watchdog interval the manager expects this
// process to honour, or 0 when there is none: $WATCHDOG_USEC is unset, or
// $WATCHDOG_PID names another process (the variables were inherited). A
// service should send Watchdog at least every half interval. Malformed,
// zero or infinite values are errors, as are out-of-range pids.
func WatchdogEnabled() (time.Duration, error) {
	s, ok := os.LookupEnv(EnvWatchdogUsec)
	if !ok {
		return 0, nil
	}
	usec, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("notify: %s=%q: %w", EnvWatchdogUsec, s, err)
	}
	// UINT64_MAX is the manager's "infinity", not a usable interval.
	if usec == 0 || usec == math.MaxUint64 {
		return 0, fmt.Errorf("notify: %s=%q: not a finite positive interval", EnvWatchdogUsec, s)
	}
	if usec > uint64(math.MaxInt64/int64(time.Microsecond)) {
		return 0, fmt.Errorf("notify: %s=%q: too large", EnvWatchdogUsec, s)
	}
	if p, ok := os.LookupEnv(EnvWatchdogPID); ok {
		pid, err := strconv.ParseInt(p, 10, 32)
		if err != nil || pid <= 0 {
			return 0, fmt.Errorf("notify: %s=%q: not a pid", EnvWatchdogPID, p)
		}
		if int(pid) != os.Getpid() {
			return 0, nil
		}
	}
	return time.Duration(usec) * time.Microsecond, nil
}
