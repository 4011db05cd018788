package pid1

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// timerHub wakes the manager for the timer units: one wake-up per clock,
// at a point coalesced as sd-event places it. The monotonic clock is Go's
// own (CLOCK_MONOTONIC); the wall clock is a CLOCK_REALTIME timerfd with
// TFD_TIMER_CANCEL_ON_SET, so that a calendar timer elapses at its wall
// time even when the clock is set meanwhile, and a clock change is noticed
// (OnClockChange=, and every calendar timer computes its elapse again).
type timerHub struct {
	mono     *time.Timer
	monoAt   int64 // µs CLOCK_MONOTONIC the mono timer is set for, 0: none
	realFD   *os.File
	realAt   int64 // µs CLOCK_REALTIME the timerfd is set for, 0: disarmed
	perturb  int64 // µs into each minute (and 10 s, 1 s, 250 ms) where wake-ups line up; -1: unknown yet
	inited   bool
	disabled bool // the timerfd cannot be had: calendar timers use a Go timer, without clock-change detection

	realFallback *time.Timer // the wall-clock wake-up when disabled
	byTrigger    map[string][]*unitState
	byTriggerGen int // m.unitsGen and len(m.units) byTrigger was built for
	byTriggerN   int
}

// sleepBetween picks the wake-up time in [a, b] (µs) as sd-event does: the
// latest point that is the machine's perturbation into a minute, else into
// 10 s, 1 s or 250 ms, so that timers everywhere on the system wake
// together; else b.
func sleepBetween(a, b, perturb int64) int64 {
	if a <= 0 {
		return 0
	}
	if b <= a+1 {
		return a
	}
	for _, step := range []int64{60_000_000, 10_000_000, 1_000_000, 250_000} {
		c := (b/step)*step + perturb%step
		if c >= b {
			if c < step {
				return b
			}
			c -= step
		}
		if c >= a {
			return c
		}
	}
	return b
}

// timerPerturb is sd-event's per-boot offset: the boot ID's two halves
// XORed, modulo a minute.
func (m *Manager) timerPerturb() int64 {
	b, err := os.ReadFile(m.hostPath("/proc/sys/kernel/random/boot_id"))
	if err != nil {
		return 0
	}
	s := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	var id [16]byte
	if len(s) != 32 {
		return 0
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return 0
	}
	x := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])
	return int64(x % 60_000_000)
}

// armTimers sets the two wake-ups for the waiting timers. m.mu held.
func (m *Manager) armTimers() {
	h := &m.timers
	if !h.inited {
		h.inited = true
		h.perturb = m.timerPerturb()
	}
	var aReal, bReal, aMono, bMono int64
	for _, us := range m.units {
		if us.u.Type != "timer" || us.sub != subWaiting || us.u.Timer == nil {
			continue
		}
		acc := us.u.Timer.Accuracy.Microseconds()
		if n := us.tmr.nextReal; n > 0 {
			if aReal == 0 || n < aReal {
				aReal = n
			}
			if bReal == 0 || n+acc < bReal {
				bReal = n + acc
			}
		}
		if n := us.tmr.nextMono; n > 0 {
			if aMono == 0 || n < aMono {
				aMono = n
			}
			if bMono == 0 || n+acc < bMono {
				bMono = n + acc
			}
		}
	}
	ts := now()
	monoAt := int64(0)
	if aMono > 0 {
		monoAt = max(sleepBetween(aMono, bMono, h.perturb), 1)
	}
	if monoAt != h.monoAt {
		if h.mono != nil {
			h.mono.Stop()
			h.mono = nil
		}
		h.monoAt = monoAt
		if monoAt > 0 {
			h.mono = time.AfterFunc(time.Duration(monoAt-ts.mono)*time.Microsecond, m.timersElapse)
		}
	}
	realAt := int64(0)
	if aReal > 0 {
		realAt = max(sleepBetween(aReal, bReal, h.perturb), 1)
	}
	if realAt == 0 && m.clockWatchers() {
		realAt = ts.real + 365*24*3600*1_000_000 // armed, so that a clock change is reported
	}
	if realAt != h.realAt {
		h.realAt = realAt
		m.setRealTimer(realAt, ts)
	}
}

// clockWatchers reports whether a waiting timer must hear of clock
// changes: every calendar timer (its elapse moves) and OnClockChange=.
func (m *Manager) clockWatchers() bool {
	for _, us := range m.units {
		if us.u.Type == "timer" && us.sub == subWaiting && us.u.Timer != nil && (us.u.Timer.OnClockChange || us.tmr.nextReal > 0) {
			return true
		}
	}
	return false
}

// setRealTimer arms the wall-clock timerfd for at (µs; 0 disarms),
// creating it and its reader on first use. m.mu held.
func (m *Manager) setRealTimer(at int64, ts stamp) {
	h := &m.timers
	if h.realFD == nil && !h.disabled && at > 0 {
		fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
		if err != nil {
			m.log.Warn("no wall-clock timerfd, calendar timers will not follow clock changes", "err", err)
			h.disabled = true
		} else {
			h.realFD = os.NewFile(uintptr(fd), "timerfd-realtime")
			go m.readRealTimer(h.realFD)
		}
	}
	if h.disabled { // fall back to the monotonic clock for the wall-clock wake-up
		if h.realFallback != nil {
			h.realFallback.Stop()
			h.realFallback = nil
		}
		if at > 0 {
			h.realFallback = time.AfterFunc(time.Duration(at-ts.real)*time.Microsecond, m.timersElapse)
		}
		return
	}
	if h.realFD == nil {
		return
	}
	spec := unix.ItimerSpec{}
	if at > 0 {
		spec.Value = unix.NsecToTimespec(at * 1000)
	}
	fd := int(h.realFD.Fd())
	if err := unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &spec, nil); err != nil {
		m.log.Warn("cannot arm the wall-clock timer", "err", err)
	}
}

// readRealTimer waits on the timerfd: an expiry elapses the timers, a
// clock change (ECANCELED) makes them compute their elapses again.
func (m *Manager) readRealTimer(f *os.File) {
	var buf [8]byte
	for {
		_, err := f.Read(buf[:])
		switch {
		case err == nil:
			m.timersElapse()
		case errors.Is(err, syscall.ECANCELED):
			m.timersClockChanged()
		default:
			return // closed
		}
	}
}

// timersElapse runs the timers whose next elapse has come. Called from the
// wake-ups.
func (m *Manager) timersElapse() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	ts := now()
	m.timers.monoAt, m.timers.realAt = -1, -1 // re-armed below, whatever fired
	for _, n := range m.listLocked() {
		us := m.units[n]
		if us.u.Type != "timer" || us.sub != subWaiting || us.u.Timer == nil {
			continue
		}
		if (us.tmr.nextMono > 0 && us.tmr.nextMono <= ts.mono) || (us.tmr.nextReal > 0 && us.tmr.nextReal <= ts.real) {
			m.timerEnterRunning(us)
		}
	}
	m.armTimers()
}

// timersClockChanged handles a jump of the wall clock as upstream's
// timer_time_change: a last trigger in the future is pulled back to now,
// then OnClockChange= timers trigger and the others compute again.
func (m *Manager) timersClockChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.log.Info("system clock changed, recomputing timers")
	ts := now()
	m.timers.realAt = -1
	for _, n := range m.listLocked() {
		us := m.units[n]
		if us.u.Type != "timer" || us.sub != subWaiting || us.u.Timer == nil {
			continue
		}
		if us.tmr.lastTrigger.real > ts.real {
			us.tmr.lastTrigger.real = ts.real
		}
		if us.u.Timer.OnClockChange {
			m.timerEnterRunning(us)
		} else {
			m.timerEnterWaiting(us, true)
		}
	}
	m.armTimers()
}

// closeTimers stops the wake-ups when the manager ends.
func (m *Manager) closeTimers() {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := &m.timers
	if h.mono != nil {
		h.mono.Stop()
		h.mono = nil
	}
	if h.realFallback != nil {
		h.realFallback.Stop()
		h.realFallback = nil
	}
	if h.realFD != nil {
		h.realFD.Close()
		h.realFD = nil
	}
}
