package pid1

import (
	"testing"
	"time"
)

// TestSiphash24 checks SipHash-2-4 against the reference vectors of the
// SipHash paper (key 00..0f, messages 00..len-1).
func TestSiphash24(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	want := map[int]uint64{0: 0x726fdb47dd0e0e31, 1: 0x74f839c593dc67fd, 8: 0x93f5f5799a932462, 15: 0xa129ca6149be45e5}
	for n, w := range want {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i)
		}
		if got := siphash24(key, msg); got != w {
			t.Errorf("len %d: %#x, want %#x", n, got, w)
		}
	}
}

// TestSleepBetween pins sd-event's coalescing: the latest point of the
// window that sits at the perturbation into a minute, 10 s, 1 s or 250 ms.
func TestSleepBetween(t *testing.T) {
	const s = 1_000_000
	for _, tc := range []struct{ a, b, perturb, want int64 }{
		{100 * s, 100*s + 1, 7 * s, 100 * s},                               // no room: the start
		{100 * s, 200 * s, 7 * s, 187 * s},                                 // a minute boundary + 7 s inside
		{100 * s, 110 * s, 7 * s, 107 * s},                                 // 10 s step
		{100*s + 100_000, 100*s + 900_000, 7*s + 300_000, 100*s + 300_000}, // 1 s step
		{100 * s, 100*s + 200_000, 7*s + 300_000, 100*s + 50_000},          // 250 ms step
		{100*s + 100, 100*s + 110, 0, 100*s + 110},                         // none fits: the end
	} {
		if got := sleepBetween(tc.a, tc.b, tc.perturb); got != tc.want {
			t.Errorf("sleepBetween(%d, %d, %d) = %d, want %d", tc.a, tc.b, tc.perturb, got, tc.want)
		}
	}
}

// TestTimerStates runs timers that trigger targets in-process: a timer whose
// unit does not exist refuses its start and stays inactive; with
// RemainAfterElapse=no a timer that cannot elapse again ends dead once its
// unit is down; a manual stop ends a waiting timer.
func TestTimerStates(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "nounit.timer", "[Unit]\nDefaultDependencies=no\n[Timer]\nOnActiveSec=1h\nUnit=missing.target\n")
	writeUnit(t, root, "once.timer", "[Unit]\nDefaultDependencies=no\n[Timer]\nOnActiveSec=10ms\nAccuracySec=1us\nUnit=t.target\nRemainAfterElapse=no\n")
	writeUnit(t, root, "t.target", "[Unit]\n")
	writeUnit(t, root, "later.timer", "[Unit]\nDefaultDependencies=no\n[Timer]\nOnCalendar=2199-01-01\nUnit=t.target\n")
	m, _ := newTestManager(t, root)
	state := func(name string) string {
		s, err := m.Status(name)
		if err != nil {
			t.Fatal(err)
		}
		return s.ActiveState + "/" + s.SubState
	}

	j, err := m.Enqueue("nounit.timer", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	if r := waitJob(t, j); r != ResultFailed || state("nounit.timer") != "inactive/dead" {
		t.Errorf("timer of a missing unit: job %s, %s", r, state("nounit.timer"))
	}

	j, _ = m.Enqueue("once.timer", JobStart)
	if r := waitJob(t, j); r != ResultDone {
		t.Fatalf("once.timer start: %s", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for state("t.target") != "active/active" || state("once.timer") != "active/running" {
		if time.Now().After(deadline) {
			t.Fatalf("once.timer did not trigger t.target: %s, %s", state("once.timer"), state("t.target"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	j, _ = m.Enqueue("t.target", JobStop)
	waitJob(t, j)
	if s := state("once.timer"); s != "inactive/dead" {
		t.Errorf("RemainAfterElapse=no after its unit stopped: %s", s)
	}

	j, _ = m.Enqueue("later.timer", JobStart)
	waitJob(t, j)
	m.mu.Lock()
	next := m.units["later.timer"].tmr.nextReal
	m.mu.Unlock()
	if want := time.Date(2199, 1, 1, 0, 0, 0, 0, time.Local).UnixMicro(); next < want || next > want+time.Minute.Microseconds() {
		t.Errorf("later.timer next elapse %d, want %d (+ at most AccuracySec)", next, want)
	}
	if s := state("later.timer"); s != "active/waiting" {
		t.Errorf("later.timer: %s", s)
	}
	j, _ = m.Enqueue("later.timer", JobStop)
	waitJob(t, j)
	if s := state("later.timer"); s != "inactive/dead" {
		t.Errorf("later.timer after stop: %s", s)
	}
	m.closeTimers()
}
