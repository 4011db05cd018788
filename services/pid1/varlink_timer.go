package pid1

import (
	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

// timerInfo adds a timer's context and runtime to its io.systemd.Unit
// description (Triggers/TriggeredBy come from the dependency graph). m.mu
// held.
func (m *Manager) timerInfo(us *unitState, c *UnitContext, r *UnitRuntime) {
	t := us.u.Timer
	if t == nil || us.u.Type != "timer" {
		return
	}
	tc := &iosystemdunit.TimerContext{Unit: t.Unit, OnClockChange: t.OnClockChange, OnTimezoneChange: t.OnTimezoneChange,
		AccuracyUSec: t.Accuracy.Microseconds(), RandomizedDelayUSec: t.RandomizedDelay.Microseconds(),
		RandomizedOffsetUSec: t.RandomizedOffset.Microseconds(), FixedRandomDelay: t.FixedRandomDelay,
		Persistent: t.Persistent, WakeSystem: t.WakeSystem, RemainAfterElapse: t.RemainAfterElapse,
		DeferReactivation: t.DeferReactivation}
	for _, v := range t.Values {
		s := iosystemdunit.TimerSpec{Base: string(v.Base)}
		if v.Calendar != nil {
			s.Calendar = v.Calendar.String()
		} else {
			usec := v.Span.Microseconds()
			s.USec = &usec
		}
		tc.Timers = append(tc.Timers, s)
	}
	c.Timer = tc
	res := us.result
	if res == "" {
		res = resultSuccess
	}
	tr := &iosystemdunit.TimerRuntime{Result: res.wire(), LastTriggerUSec: us.tmr.lastTrigger.timestamp()}
	if us.tmr.lastTrigger.real == 0 && us.tmr.lastTrigger.mono == 0 {
		tr.LastTriggerUSec = nil
	}
	if n := us.tmr.nextReal; n > 0 {
		tr.NextElapseUSecRealtime = &n
	}
	if n := us.tmr.nextMono; n > 0 {
		tr.NextElapseUSecMonotonic = &n
	}
	r.Timer = tr
}
