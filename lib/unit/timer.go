package unit

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/calendar"
	"github.com/stead-os/stead/lib/conf"
)

// TimerBase is what a timer value counts from: upstream's names, as the
// io.systemd.Unit IDL's TimerBase enum spells them.
type TimerBase string

// The timer bases.
const (
	TimerActive       TimerBase = "OnActiveUSec"       // the timer's own activation
	TimerBoot         TimerBase = "OnBootUSec"         // boot (CLOCK_MONOTONIC's zero)
	TimerStartup      TimerBase = "OnStartupUSec"      // the service manager's start
	TimerUnitActive   TimerBase = "OnUnitActiveUSec"   // the triggered unit's last activation
	TimerUnitInactive TimerBase = "OnUnitInactiveUSec" // the triggered unit's last deactivation
	TimerCalendar     TimerBase = "OnCalendar"         // a calendar event (wall clock)
)

// timerKeys maps the monotonic settings to their base.
var timerKeys = map[string]TimerBase{
	"OnActiveSec": TimerActive, "OnBootSec": TimerBoot, "OnStartupSec": TimerStartup,
	"OnUnitActiveSec": TimerUnitActive, "OnUnitInactiveSec": TimerUnitInactive,
}

// TimerValue is one On*= setting: a span after its base, or a calendar
// event.
type TimerValue struct {
	Base     TimerBase
	Span     time.Duration  // monotonic bases
	Calendar *calendar.Spec // TimerCalendar
}

// DefaultTimerAccuracy is AccuracySec='s default, upstream's
// DefaultTimerAccuracySec=.
const DefaultTimerAccuracy = time.Minute

// Timer is the typed [Timer] section.
type Timer struct {
	Values            []TimerValue // in file order; an empty On*= drops those before it
	Unit              string       // the unit to trigger (default: NAME.service)
	Accuracy          time.Duration
	RandomizedDelay   time.Duration
	RandomizedOffset  time.Duration
	FixedRandomDelay  bool
	Persistent        bool
	WakeSystem        bool // always false: refused with a warning (stead does not program RTC wake-ups)
	RemainAfterElapse bool
	OnClockChange     bool
	OnTimezoneChange  bool
	DeferReactivation bool
}

// parseTimer reads the [Timer] section; it reports true when the unit
// cannot be used (no value setting at all, as upstream refuses it).
func (u *Unit) parseTimer(report func(error)) bool {
	t := &Timer{RemainAfterElapse: true, Accuracy: DefaultTimerAccuracy}
	u.Timer = t
	for _, sec := range u.File.SectionsNamed("Timer") {
		for _, e := range sec.Entries {
			// Unknown keys are reported by the loader (keys.go).
			base, mono := timerKeys[e.Key]
			if !mono && e.Key != "OnCalendar" {
				continue
			}
			u.File.MarkUsed("Timer", e.Key)
			if e.Value == "" { // resets every timer value, monotonic and calendar
				t.Values = nil
				continue
			}
			v, ok := u.expand(e, report)
			if !ok {
				continue
			}
			if mono {
				d, err := conf.ParseTimespan(v)
				if err != nil {
					report(e.Wrap(err))
					continue
				}
				t.Values = append(t.Values, TimerValue{Base: base, Span: d})
				continue
			}
			spec, err := calendar.Parse(v)
			if err != nil {
				report(e.Wrap(err))
				continue
			}
			t.Values = append(t.Values, TimerValue{Base: TimerCalendar, Calendar: spec})
		}
	}
	t.Unit = u.str("Timer", "Unit", report)
	if t.Unit != "" {
		if _, _, typ, tmpl, err := ParseName(t.Unit); err != nil || tmpl || typ == "timer" {
			e, _ := u.File.Lookup("Timer", "Unit")
			if err == nil {
				err = fmt.Errorf("cannot trigger %q", t.Unit)
			}
			report(e.Wrap(err))
			t.Unit = ""
		}
	}
	if t.Unit == "" {
		t.Unit = strings.TrimSuffix(u.Name, ".timer") + ".service"
	}
	t.Accuracy = u.timespan("Timer", "AccuracySec", DefaultTimerAccuracy, report)
	if t.Accuracy <= 0 {
		t.Accuracy = time.Microsecond // upstream: 0 is 1us
	}
	t.RandomizedDelay = u.timespan("Timer", "RandomizedDelaySec", 0, report)
	t.RandomizedOffset = u.timespan("Timer", "RandomizedOffsetSec", 0, report)
	t.FixedRandomDelay = u.boolean("Timer", "FixedRandomDelay", false, report)
	t.Persistent = u.boolean("Timer", "Persistent", false, report)
	t.RemainAfterElapse = u.boolean("Timer", "RemainAfterElapse", true, report)
	t.OnClockChange = u.boolean("Timer", "OnClockChange", false, report)
	t.OnTimezoneChange = u.boolean("Timer", "OnTimezoneChange", false, report)
	t.DeferReactivation = u.boolean("Timer", "DeferReactivation", false, report)
	if u.boolean("Timer", "WakeSystem", false, report) {
		e, _ := u.File.Lookup("Timer", "WakeSystem")
		report(e.Wrap(errors.New("waking the system from suspend is not supported by stead, ignoring (the timer elapses when the system is awake)")))
	}
	if t.OnTimezoneChange {
		e, _ := u.File.Lookup("Timer", "OnTimezoneChange")
		report(e.Wrap(errors.New("stead does not watch the time zone, ignoring (the timer does not trigger on time zone changes)")))
	}
	u.timerDependencies()
	if len(t.Values) == 0 && !t.OnClockChange && !t.OnTimezoneChange {
		report(fmt.Errorf("%s: timer unit lacks value setting, refusing", u.Name))
		return true
	}
	return false
}

// Special units a timer's default dependencies name.
const (
	TimersTarget   = "timers.target"
	SysinitTarget  = "sysinit.target"
	ShutdownTarget = "shutdown.target"
	TimeSetTarget  = "time-set.target"
	TimeSyncTarget = "time-sync.target"
)

// timerDependencies adds what upstream adds to every timer: ordered before
// the unit it triggers and, with DefaultDependencies=, Requires= and
// After= sysinit.target, Before= timers.target, Conflicts= and Before=
// shutdown.target, and for calendar timers After= time-set.target and
// time-sync.target.
func (u *Unit) timerDependencies() {
	s := &u.Unit
	s.Before = appendUniq(s.Before, u.Timer.Unit)
	if !s.DefaultDependencies {
		return
	}
	s.Before = appendUniq(s.Before, TimersTarget)
	s.Requires = appendUniq(s.Requires, SysinitTarget)
	s.After = appendUniq(s.After, SysinitTarget)
	for _, v := range u.Timer.Values {
		if v.Base == TimerCalendar {
			s.After = appendUniq(s.After, TimeSyncTarget, TimeSetTarget)
			break
		}
	}
	s.Conflicts = appendUniq(s.Conflicts, ShutdownTarget)
	s.Before = appendUniq(s.Before, ShutdownTarget)
}
