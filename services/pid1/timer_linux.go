package pid1

// Timer units (systemd.timer(5)): a timer waits for the earliest of its
// monotonic (OnActiveSec=, OnBootSec=, OnStartupSec=, OnUnitActiveSec=,
// OnUnitInactiveSec=) and calendar (OnCalendar=) values, then starts the
// unit it triggers. States as upstream: waiting (active), running (active:
// the triggered unit was started and has not gone inactive yet), elapsed
// (active: nothing left to wait for), dead, failed.
//
// Elapses are coalesced as sd-event does: every waiting timer of one clock
// may fire anywhere in [next, next+AccuracySec], and the manager wakes once
// at a point inside the narrowest window, placed by a per-boot perturbation
// (timerhub_linux.go).

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/unit"
)

// Timer sub-states, upstream's names.
const (
	subWaiting subState = "waiting"
	subElapsed subState = "elapsed"
	// subRunning ("running") is shared with services.
)

// timerResult is a timer's Result (the IDL's TimerResult).
const resultTimerResources = resultResources

// TimerStampDir is where Persistent= timers keep their stamp files, as
// upstream: the file's mtime is the last trigger.
const TimerStampDir = "/var/lib/systemd/timers"

// timerRuntime is what a timer keeps between elapses: the last trigger
// and the next elapse on each clock (µs; 0: none). It is all a re-exec
// has to carry over (upstream serializes the last trigger and the state);
// disabled marks the one-shot values (OnActiveSec=, OnBootSec=,
// OnStartupSec=) that have passed, by their index in the unit's values.
type timerRuntime struct {
	lastTrigger stamp
	nextReal    int64
	nextMono    int64
	disabled    []bool
}

// startTimer is a timer's start: it reads the Persistent= stamp and waits.
// m.mu held.
func (m *Manager) startTimer(us *unitState) {
	t := us.u.Timer
	if trig, err := m.get(t.Unit); err != nil || trig.u.LoadState != unit.Loaded {
		// As upstream: the start is refused and the timer stays as it was.
		m.log.Warn("refusing to start, unit to trigger not loaded", "unit", us.u.Name, "triggers", t.Unit)
		if j := us.job; j != nil {
			m.finishJob(j, ResultFailed)
		}
		m.notifyChange()
		return
	}
	us.tmr = timerRuntime{disabled: make([]bool, len(t.Values))}
	if t.Persistent {
		p := m.timerStampPath(us)
		if st, err := os.Stat(p); err == nil {
			mt := st.ModTime()
			if mt.Before(time.Now()) {
				us.tmr.lastTrigger.real = mt.UnixMicro()
			} else {
				m.log.Warn("not using persistent file timestamp as it is in the future", "unit", us.u.Name,
					"stamp", mt.Format(time.RFC3339))
			}
		} else if errors.Is(err, os.ErrNotExist) {
			// The timer never ran: the stamp exists from now on, with now as its time.
			m.touchStamp(us, time.Time{})
		}
	}
	us.result = resultSuccess
	m.timerEnterWaiting(us, false)
}

// stopTimer ends a timer. m.mu held.
func (m *Manager) stopTimer(us *unitState) {
	m.timerEnterDead(us, resultSuccess)
}

func (m *Manager) timerEnterDead(us *unitState, r result) {
	if us.result == resultSuccess || us.result == "" {
		us.result = r
	}
	us.tmr.nextReal, us.tmr.nextMono = 0, 0
	if us.result != resultSuccess {
		m.setState(us, StateFailed, subFailed)
	} else {
		m.setState(us, StateInactive, subDead)
	}
	m.armTimers()
}

// timerEnterWaiting computes the next elapse from the timer's values and
// waits for it; with nothing left to wait for, the timer is elapsed.
// timeChange is set after the wall clock jumped: one-shot values that
// passed stay armed then. m.mu held.
func (m *Manager) timerEnterWaiting(us *unitState, timeChange bool) {
	t := us.u.Timer
	trig, err := m.get(t.Unit)
	if err != nil || trig.u.LoadState != unit.Loaded {
		m.log.Error("unit to trigger vanished", "unit", us.u.Name, "triggers", t.Unit)
		m.timerEnterDead(us, resultTimerResources)
		return
	}
	ts := now()
	rt := &us.tmr
	if len(rt.disabled) != len(t.Values) { // the unit was reloaded with other values
		rt.disabled = make([]bool, len(t.Values))
	}
	active := us.active == StateActive || us.active == StateReloading
	startup := m.startupStamp(ts)
	var nextReal, nextMono int64
	foundReal, foundMono, leaveAround := false, false, false
	for i, v := range t.Values {
		if rt.disabled[i] {
			continue
		}
		if v.Base == unit.TimerCalendar {
			// From the last trigger if known, else from the timer's activation.
			b := ts.real
			switch {
			case rt.lastTrigger.real > 0:
				b = rt.lastTrigger.real
			case active:
				b = us.rt.inactiveExit.real
			}
			if t.DeferReactivation && trig.rt.inactiveEnter.real > b {
				b = trig.rt.inactiveEnter.real
			}
			next, err := v.Calendar.Next(time.UnixMicro(b))
			if err != nil {
				continue
			}
			n := next.UnixMicro() + m.timerOffset(us)
			// A time that passed while we were down elapses at our start, so that
			// RandomizedDelaySec= spreads catch-ups at boot too.
			if rebased := startup.mono + (ts.real - ts.mono); n < rebased {
				n = rebased
			}
			if !foundReal || n < nextReal {
				nextReal = n
			}
			foundReal = true
			continue
		}
		var base int64
		switch v.Base {
		case unit.TimerActive:
			base = ts.mono
			if active {
				base = us.rt.inactiveExit.mono
			}
		case unit.TimerBoot:
			base = 0 // CLOCK_MONOTONIC counts from boot
		case unit.TimerStartup:
			base = startup.mono
		case unit.TimerUnitActive:
			leaveAround = true
			base = max(trig.rt.inactiveExit.mono, rt.lastTrigger.mono)
			if base <= 0 {
				continue
			}
		case unit.TimerUnitInactive:
			leaveAround = true
			base = max(trig.rt.inactiveEnter.mono, rt.lastTrigger.mono)
			if base <= 0 {
				continue
			}
		}
		n := base + v.Span.Microseconds()
		if rt.lastTrigger.mono > 0 && !timeChange && n < ts.mono &&
			(v.Base == unit.TimerActive || v.Base == unit.TimerBoot || v.Base == unit.TimerStartup) {
			rt.disabled[i] = true // a one-time value that has passed
			continue
		}
		if !foundMono || n < nextMono {
			nextMono = n
		}
		foundMono = true
	}
	if !foundMono && !foundReal && !t.OnClockChange && !t.OnTimezoneChange {
		rt.nextReal, rt.nextMono = 0, 0
		if t.RemainAfterElapse || leaveAround {
			m.setState(us, StateActive, subElapsed)
		} else {
			m.timerEnterDead(us, resultSuccess)
		}
		m.armTimers()
		return
	}
	rt.nextReal, rt.nextMono = 0, 0
	if foundMono {
		rt.nextMono = nextMono + m.timerDelay(us)
	}
	if foundReal {
		rt.nextReal = nextReal + m.timerDelay(us)
	}
	m.setState(us, StateActive, subWaiting)
	m.armTimers()
}

// timersReloaded makes the waiting timers compute their next elapse from
// their reloaded settings, as upstream does after a daemon-reload. m.mu held.
func (m *Manager) timersReloaded() {
	for _, n := range m.listLocked() {
		if us := m.units[n]; us.u.Type == "timer" && us.u.Timer != nil && us.sub == subWaiting {
			m.timerEnterWaiting(us, false)
		}
	}
}

// timerEnterRunning starts the triggered unit, records the trigger (and
// the stamp file) and waits for that unit to go inactive. m.mu held.
func (m *Manager) timerEnterRunning(us *unitState) {
	if j := us.job; j != nil && j.typ == JobStop {
		return // going down
	}
	t := us.u.Timer
	trig, err := m.get(t.Unit)
	if err != nil || trig.u.LoadState != unit.Loaded {
		m.log.Error("unit to trigger vanished", "unit", us.u.Name, "triggers", t.Unit)
		m.timerEnterDead(us, resultTimerResources)
		return
	}
	if _, err := m.addJob(trig, JobStart, nil, map[string]bool{}); err != nil {
		m.log.Warn("failed to queue unit startup job", "unit", us.u.Name, "triggers", t.Unit, "err", err)
		m.timerEnterDead(us, resultTimerResources)
		return
	}
	us.tmr.lastTrigger = now()
	m.log.Info("timer elapsed, starting its unit", "unit", us.u.Name, "triggers", t.Unit)
	if t.Persistent {
		m.touchStamp(us, time.UnixMicro(us.tmr.lastTrigger.real))
	}
	us.tmr.nextReal, us.tmr.nextMono = 0, 0
	m.setState(us, StateActive, subRunning)
	m.armTimers()
	m.dispatch()
}

// timersNotify tells the timers that trigger us about its state change,
// as upstream's trigger_notify: a waiting or elapsed timer computes its
// next elapse again (OnUnitActiveSec= and OnUnitInactiveSec= count from
// the new state), a running one waits again once the unit is down.
// m.mu held.
func (m *Manager) timersNotify(us *unitState) {
	for _, tu := range m.timersOf(us.u.Name) {
		for i, v := range tu.u.Timer.Values {
			if (v.Base == unit.TimerUnitActive || v.Base == unit.TimerUnitInactive) && i < len(tu.tmr.disabled) {
				tu.tmr.disabled[i] = false
			}
		}
		switch tu.sub {
		case subWaiting, subElapsed:
			m.timerEnterWaiting(tu, false)
		case subRunning:
			if us.active == StateInactive || us.active == StateFailed {
				m.timerEnterWaiting(tu, false)
			}
		}
	}
}

// timersOf lists the timer units that trigger name, from an index
// rebuilt when units are loaded or reloaded. m.mu held.
func (m *Manager) timersOf(name string) []*unitState {
	h := &m.timers
	if h.byTrigger == nil || h.byTriggerGen != m.unitsGen || len(m.units) != h.byTriggerN {
		h.byTrigger = map[string][]*unitState{}
		for _, us := range m.units {
			if us.u.Timer != nil && us.u.Type == "timer" {
				h.byTrigger[us.u.Timer.Unit] = append(h.byTrigger[us.u.Timer.Unit], us)
			}
		}
		h.byTriggerGen, h.byTriggerN = m.unitsGen, len(m.units)
	}
	return h.byTrigger[name]
}

// timerStampPath is the host path of a Persistent= timer's stamp file.
func (m *Manager) timerStampPath(us *unitState) string {
	return m.hostPath(filepath.Join(TimerStampDir, "stamp-"+us.u.Name))
}

// touchStamp creates the stamp file and sets its mtime to at (the zero
// time: now).
func (m *Manager) touchStamp(us *unitState, at time.Time) {
	p := m.timerStampPath(us)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		m.log.Warn("cannot create timer stamp directory", "unit", us.u.Name, "err", err)
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		m.log.Warn("cannot create timer stamp", "unit", us.u.Name, "err", err)
		return
	}
	f.Close()
	if at.IsZero() {
		at = time.Now()
	}
	if err := os.Chtimes(p, at, at); err != nil {
		m.log.Warn("cannot set timer stamp", "unit", us.u.Name, "err", err)
	}
}

// startupStamp is when the manager started, on both clocks. m.mu held.
func (m *Manager) startupStamp(ts stamp) stamp {
	if m.started.IsZero() {
		return ts
	}
	d := time.Since(m.started).Microseconds()
	return stamp{real: m.started.UnixMicro(), mono: ts.mono - d}
}

// timerDelay is RandomizedDelaySec='s share: random at every elapse, or
// with FixedRandomDelay= fixed per machine and unit (µs).
func (m *Manager) timerDelay(us *unitState) int64 {
	t := us.u.Timer
	span := uint64(t.RandomizedDelay.Microseconds())
	if span == 0 {
		return 0
	}
	var r uint64
	if t.FixedRandomDelay {
		r = m.fixedDelayHash(us)
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		r = binary.LittleEndian.Uint64(b[:])
	}
	return int64(r % span)
}

// timerOffset is RandomizedOffsetSec='s share, fixed per machine and unit
// like FixedRandomDelay= (µs).
func (m *Manager) timerOffset(us *unitState) int64 {
	span := uint64(us.u.Timer.RandomizedOffset.Microseconds())
	if span == 0 {
		return 0
	}
	return int64(m.fixedDelayHash(us) % span)
}

// fixedDelayKey is upstream's key for the fixed delay's hash.
var fixedDelayKey = [16]byte{0x51, 0x0a, 0xdb, 0x76, 0x29, 0x51, 0x42, 0xc2, 0x80, 0x35, 0xea, 0xe6, 0x8e, 0x3a, 0x37, 0xbd}

// fixedDelayHash is upstream's stable per-timer number: SipHash-2-4 over
// the machine ID, "system manager", the uid and the unit name, so that
// FixedRandomDelay= picks the same delay as upstream on the same machine.
func (m *Manager) fixedDelayHash(us *unitState) uint64 {
	var id [16]byte // all zero without a machine ID, as upstream
	if b, err := os.ReadFile(m.hostPath("/etc/machine-id")); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) == 32 {
			_, _ = hex.Decode(id[:], []byte(s))
		}
	}
	msg := append([]byte{}, id[:]...)
	msg = append(msg, 1) // a system manager
	msg = binary.LittleEndian.AppendUint32(msg, uint32(os.Getuid()))
	msg = append(msg, us.u.Name...)
	return siphash24(fixedDelayKey, msg)
}

// siphash24 is SipHash-2-4 (Aumasson, Bernstein) of msg under key.
func siphash24(key [16]byte, msg []byte) uint64 {
	k0 := binary.LittleEndian.Uint64(key[:8])
	k1 := binary.LittleEndian.Uint64(key[8:])
	v0, v1 := k0^0x736f6d6570736575, k1^0x646f72616e646f6d
	v2, v3 := k0^0x6c7967656e657261, k1^0x7465646279746573
	round := func() {
		v0 += v1
		v1 = v1<<13 | v1>>51
		v1 ^= v0
		v0 = v0<<32 | v0>>32
		v2 += v3
		v3 = v3<<16 | v3>>48
		v3 ^= v2
		v0 += v3
		v3 = v3<<21 | v3>>43
		v3 ^= v0
		v2 += v1
		v1 = v1<<17 | v1>>47
		v1 ^= v2
		v2 = v2<<32 | v2>>32
	}
	n := len(msg)
	for len(msg) >= 8 {
		w := binary.LittleEndian.Uint64(msg)
		v3 ^= w
		round()
		round()
		v0 ^= w
		msg = msg[8:]
	}
	var last [8]byte
	copy(last[:], msg)
	w := binary.LittleEndian.Uint64(last[:]) | uint64(n)<<56
	v3 ^= w
	round()
	round()
	v0 ^= w
	v2 ^= 0xff
	for range 4 {
		round()
	}
	return v0 ^ v1 ^ v2 ^ v3
}
