package oomd

import (
	"os"
	"reflect"
	"testing"
	"time"
)

func TestSwapRoundPicksMostSwapRespectingPreferences(t *testing.T) {
	tr := newTree(t)
	tr.meminfo(8<<30, 512<<20, 4<<30, 200<<20) // 6.25% memory and ~4.9% swap free: both below 10%
	tr.group("/system.slice", 0, 0, 0, "0.00")
	tr.group("/system.slice/a.service", 10, 100<<20, 0, "0.00") // below 5% of swap
	tr.group("/system.slice/b.service", 10, 500<<20, 0, "0.00") // the pick
	tr.group("/system.slice/c.service", 10, 1<<30, 0, "0.00")   // avoided: last
	tr.group("/system.slice/d.service", 10, 2<<30, 0, "0.00")   // omitted
	m, _, k, x := tr.manager()
	x.Set(tr.cg("/system.slice/c.service"), "user.oomd_avoid", "1")
	x.Set(tr.cg("/system.slice/d.service"), "user.oomd_omit", "1")
	m.Apply(sourceSystem, []Watch{{Kill: true, Path: "/system.slice", Property: "ManagedOOMSwap"}}, true)
	if got := m.SwapRound(); got != "/system.slice/b.service" {
		t.Fatalf("killed %q, want b", got)
	}
	if got := k.list(); len(got) != 1 {
		t.Fatalf("one kill per round, got %v", got)
	}
	// With b gone, the avoided c is next; the omitted d never.
	os.RemoveAll(tr.cg("/system.slice/b.service"))
	if got := m.SwapRound(); got != "/system.slice/c.service" {
		t.Fatalf("killed %q, want the avoided c once nothing else qualifies", got)
	}
}

func TestSwapRoundNeedsBothMemoryAndSwapShort(t *testing.T) {
	tr := newTree(t)
	tr.group("/s", 0, 0, 0, "0.00")
	tr.group("/s/a", 10, 2<<30, 0, "0.00")
	m, _, k, _ := tr.manager()
	m.Apply(sourceSystem, []Watch{{Kill: true, Path: "/s", Property: "ManagedOOMSwap"}}, true)
	for _, mi := range [][4]uint64{
		{8 << 30, 4 << 30, 4 << 30, 100 << 20}, // plenty of memory available
		{8 << 30, 100 << 20, 4 << 30, 2 << 30}, // plenty of swap free
		{8 << 30, 100 << 20, 0, 0},             // no swap at all
	} {
		tr.meminfo(mi[0], mi[1], mi[2], mi[3])
		if got := m.SwapRound(); got != "" {
			t.Errorf("meminfo %v: killed %q", mi, got)
		}
	}
	tr.meminfo(8<<30, 100<<20, 4<<30, 100<<20)
	if got := m.SwapRound(); got != "/s/a" || len(k.list()) != 1 {
		t.Errorf("killed %q (%v), want /s/a", got, k.list())
	}
}

func TestPreferenceOwnershipRule(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to chown")
	}
	tr := newTree(t)
	tr.meminfo(8<<30, 100<<20, 4<<30, 100<<20)
	tr.group("/u", 0, 0, 0, "0.00")
	tr.group("/u/big", 10, 2<<30, 0, "0.00")
	tr.group("/u/small", 10, 1<<30, 0, "0.00")
	m, _, _, x := tr.manager()
	x.Set(tr.cg("/u/big"), "user.oomd_omit", "1")
	// big belongs to uid 1000 while the watched /u belongs to root: its omit is ignored.
	if err := os.Chown(tr.cg("/u/big"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	m.Apply(sourceSystem, []Watch{{Kill: true, Path: "/u", Property: "ManagedOOMSwap"}}, true)
	if got := m.SwapRound(); got != "/u/big" {
		t.Fatalf("killed %q: the omit xattr of a group owned by another user must be ignored", got)
	}
	// Once /u belongs to the same user, it counts.
	os.Chown(tr.cg("/u"), 1000, 1000)
	if got := m.SwapRound(); got != "/u/small" {
		t.Fatalf("killed %q, want small (big omitted by its owner)", got)
	}
}

func TestCandidatesOOMGroupAndLeaves(t *testing.T) {
	tr := newTree(t)
	tr.group("/s", 0, 0, 0, "0.00")
	tr.group("/s/g", 5, 0, 0, "0.00")
	tr.set("/s/g", "memory.oom.group", "1")
	tr.group("/s/g/inner", 5, 0, 0, "0.00")
	tr.group("/s/n", 5, 0, 0, "0.00")
	tr.group("/s/n/leaf1", 5, 0, 0, "0.00")
	tr.group("/s/n/leaf2", 5, 0, 0, "0.00")
	m, _, _, _ := tr.manager()
	var got []string
	for _, c := range m.candidates("/s", nil) {
		got = append(got, c.Path)
	}
	want := []string{"/s/g", "/s/n/leaf1", "/s/n/leaf2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("candidates %v, want %v", got, want)
	}
	if got := m.candidates("/gone", nil); len(got) != 0 {
		t.Errorf("a vanished group has candidates: %v", got)
	}
}

// pressureTree is /w watched with a 50% limit over 2 s; x reclaims 100 pages a round, y 10.
func pressureTree(t *testing.T) (*tree, *Manager, *fakeClock, *recKiller, func()) {
	tr := newTree(t)
	tr.group("/w", 100, 0, 1, "60.00")
	tr.group("/w/x", 50, 0, 0, "60.00")
	tr.group("/w/y", 50, 0, 0, "60.00")
	m, c, k, _ := tr.manager()
	limit := int64(1 << 31) // 50% of 2³²−1
	m.Apply(sourceSystem, []Watch{{Kill: true, Path: "/w", Property: "ManagedOOMMemoryPressure", Limit: &limit, Duration: i64(2_000_000)}}, true)
	scan := uint64(0)
	tick := func() {
		scan++
		tr.try("/w", "memory.stat", "pgscan "+itoa(scan*1000)+"\n")
		tr.try("/w/x", "memory.stat", "pgscan "+itoa(scan*100)+"\n")
		tr.try("/w/y", "memory.stat", "pgscan "+itoa(scan*10)+"\n")
	}
	return tr, m, c, k, tick
}

func itoa(v uint64) string { return fmtUint(v) }

func TestPressureRoundDurationAndPause(t *testing.T) {
	_, m, c, k, tick := pressureTree(t)
	for sec := 1; sec <= 40; sec++ {
		c.now = time.Duration(sec) * time.Second
		tick()
		got := m.PressureRound()
		want := ""
		// Above the limit from 1 s: 2 s later (3 s) the first kill, then 15 s without any,
		// so the next at 18 s and 33 s.
		switch sec {
		case 3, 18, 33:
			want = "/w/x"
		}
		if got != want {
			t.Fatalf("at %ds killed %q, want %q", sec, got, want)
		}
	}
	if n := len(k.list()); n != 3 {
		t.Errorf("%d kills, want 3", n)
	}
}

func TestPressureRoundResetsAndNeedsReclaim(t *testing.T) {
	tr, m, c, k, tick := pressureTree(t)
	c.now = time.Second
	tick()
	m.PressureRound()
	c.now = 2 * time.Second
	tr.pressure("/w", "40.00") // drops below: the timer restarts
	tick()
	m.PressureRound()
	tr.pressure("/w", "60.00")
	for _, s := range []int{3, 4} {
		c.now = time.Duration(s) * time.Second
		tick()
		if got := m.PressureRound(); got != "" {
			t.Fatalf("at %ds killed %q although the limit was not exceeded for 2 s", s, got)
		}
	}
	// Reclaim was last seen at 4 s (the last tick): kills at 5 s and, after the pause, at 20 s;
	// from 35 s on the reclaim is more than 30 s old and nothing is killed however high the
	// pressure.
	var kills []int
	for s := 5; s <= 50; s++ {
		c.now = time.Duration(s) * time.Second
		if m.PressureRound() != "" {
			kills = append(kills, s)
		}
	}
	if !reflect.DeepEqual(kills, []int{5, 20}) || len(k.list()) != 2 {
		t.Errorf("kills at %v (%v), want [5 20]", kills, k.list())
	}
}

func TestPressureRoundAvoidAndOmit(t *testing.T) {
	tr, m, c, k, tick := pressureTree(t)
	x := m.fs.XAttr
	x.Set(tr.cg("/w/x"), "user.oomd_avoid", "1")
	for s := 1; s <= 3; s++ {
		c.now = time.Duration(s) * time.Second
		tick()
		m.PressureRound()
	}
	if got := k.list(); !reflect.DeepEqual(got, []string{"/w/y"}) {
		t.Errorf("killed %v, want y (x avoided)", got)
	}
	x.Set(tr.cg("/w/y"), "user.oomd_omit", "1")
	for s := 4; s <= 19; s++ {
		c.now = time.Duration(s) * time.Second
		tick()
		m.PressureRound()
	}
	if got := k.list(); !reflect.DeepEqual(got, []string{"/w/y", "/w/x"}) {
		t.Errorf("killed %v, want x after the pause (y omitted)", got)
	}
}

func rulesManager(t *testing.T, rules ...*Rule) (*tree, *Manager, *fakeClock, *recKiller) {
	tr := newTree(t)
	tr.group("/r", 100, 0, 5, "70.00")
	tr.group("/r/a", 10, 300<<20, 1, "0.00")
	tr.group("/r/b", 10, 100<<20, 50, "0.00")
	m, c, k, _ := tr.manager()
	rs := map[string]*Rule{}
	var names []string
	for _, r := range rules {
		rs[r.Name] = r
		names = append(names, r.Name)
	}
	m.SetConfig(DefaultConfig(), rs)
	m.Apply(sourceSystem, []Watch{{Kill: true, Path: "/r", Property: "OOMRules", Rules: append(names, "undefined")}}, true)
	return tr, m, c, k
}

func TestRulesKillAllLastingToTheTick(t *testing.T) {
	_, m, c, k := rulesManager(t, &Rule{Name: "p", MemoryPressureAbove: 5000, SwapUsageMax: -1, Action: ActionKillAll, Lasting: 3 * time.Second})
	var kills []int
	for s := 1; s <= 9; s++ {
		c.now = time.Duration(s) * time.Second
		if m.RulesRound() == "/r" {
			kills = append(kills, s)
		}
	}
	// Met from 1 s: fires at 4 s (3 s later), the timer restarts at 5 s and fires at 8 s.
	if !reflect.DeepEqual(kills, []int{4, 8}) {
		t.Errorf("kill-all fired at %v, want [4 8]", kills)
	}
	if len(k.list()) != 2 {
		t.Errorf("kills: %v", k.list())
	}
}

func TestRulesLastingZeroAndReset(t *testing.T) {
	tr, m, c, k := rulesManager(t, &Rule{Name: "p", MemoryPressureAbove: 5000, SwapUsageMax: -1, Action: ActionKillAll, Lasting: 2 * time.Second})
	c.now = 1 * time.Second
	m.RulesRound()
	tr.pressure("/r", "10.00")
	c.now = 2 * time.Second
	m.RulesRound() // resets
	tr.pressure("/r", "70.00")
	c.now = 3 * time.Second
	if m.RulesRound() != "" {
		t.Fatal("fired although the timer was reset")
	}
	c.now = 4 * time.Second
	if m.RulesRound() != "" {
		t.Fatal("fired after 1 s of 2")
	}
	c.now = 5 * time.Second
	if m.RulesRound() != "/r" || len(k.list()) != 1 {
		t.Fatalf("did not fire after 2 s: %v", k.list())
	}
	// LastingSec=0 fires at once.
	_, m2, c2, k2 := rulesManager(t, &Rule{Name: "now", MemoryPressureAbove: 5000, SwapUsageMax: -1, Action: ActionKillAll})
	c2.now = time.Second
	if m2.RulesRound() != "/r" || len(k2.list()) != 1 {
		t.Errorf("LastingSec=0 did not fire at once: %v", k2.list())
	}
}

func TestRulesKillByPgscanAndSwap(t *testing.T) {
	tr, m, c, k := rulesManager(t, &Rule{Name: "scan", MemoryPressureAbove: 5000, SwapUsageMax: -1, Action: ActionKillByPgscan})
	c.now = time.Second
	if got := m.RulesRound(); got != "/r/b" {
		t.Errorf("kill-by-pgscan killed %q, want b (highest pgscan)", got)
	}

	tr2, m2, c2, k2 := rulesManager(t, &Rule{Name: "swap", MemoryPressureAbove: -1, SwapUsageMax: 9000, Action: ActionKillBySwap})
	c2.now = time.Second
	tr2.meminfo(8<<30, 4<<30, 1<<30, 1<<30) // no swap used: condition false
	if got := m2.RulesRound(); got != "" {
		t.Errorf("fired with swap unused: %q", got)
	}
	tr2.meminfo(8<<30, 4<<30, 1<<30, 50<<20) // 95% swap used > 90%
	c2.now = 2 * time.Second
	if got := m2.RulesRound(); got != "/r/a" {
		t.Errorf("kill-by-swap killed %q, want a (most swap)", got)
	}
	_ = tr
	if len(k.list()) != 1 || len(k2.list()) != 1 {
		t.Errorf("kills %v %v", k.list(), k2.list())
	}
}

func TestRulesOneKillPerRound(t *testing.T) {
	tr := newTree(t)
	tr.group("/one", 1, 0, 0, "90.00")
	tr.group("/two", 1, 0, 0, "90.00")
	m, c, k, _ := tr.manager()
	m.SetConfig(DefaultConfig(), map[string]*Rule{"p": {Name: "p", MemoryPressureAbove: 5000, SwapUsageMax: -1, Action: ActionKillAll}})
	m.Apply(sourceSystem, []Watch{
		{Kill: true, Path: "/one", Property: "OOMRules", Rules: []string{"p"}},
		{Kill: true, Path: "/two", Property: "OOMRules", Rules: []string{"p"}},
	}, true)
	c.now = time.Second
	if got := m.RulesRound(); got != "/one" || len(k.list()) != 1 {
		t.Fatalf("round 1: %q %v", got, k.list())
	}
	tr.pressure("/one", "0.00") // its processes are gone
	c.now = 2 * time.Second
	if got := m.RulesRound(); got != "/two" {
		t.Fatalf("round 2 killed %q, want the other group, whose timer was kept", got)
	}
}

func TestVanishingGroupsDoNotCrash(t *testing.T) {
	tr, m, c, _, tick := pressureTree(t)
	m.Apply(sourceSystem, []Watch{{Kill: true, Path: "/w", Property: "ManagedOOMSwap"}, {Kill: true, Path: "/w", Property: "OOMRules", Rules: []string{"x"}}}, false)
	m.SetConfig(DefaultConfig(), map[string]*Rule{"x": {Name: "x", MemoryPressureAbove: 1, SwapUsageMax: -1, Action: ActionKillByPgscan}})
	tr.meminfo(8<<30, 1<<20, 4<<30, 1<<20)
	for s := 1; s <= 5; s++ {
		c.now = time.Duration(s) * time.Second
		tick()
		if s == 2 {
			os.RemoveAll(tr.cg("/w"))
		}
		m.PressureRound()
		m.SwapRound()
		m.RulesRound()
		m.Describe()
		if s >= 2 {
			os.MkdirAll(tr.cg("/w"), 0o755)
			os.WriteFile(tr.cg("/w/memory.stat"), nil, 0o644)
			os.RemoveAll(tr.cg("/w"))
		}
	}
}

func TestApplyModesAndSources(t *testing.T) {
	tr := newTree(t)
	m, _, _, _ := tr.manager()
	m.Apply(sourceSystem, []Watch{{Kill: true, Path: "/a", Property: "ManagedOOMSwap"}, {Kill: true, Path: "bad/../x", Property: "ManagedOOMSwap"}}, true)
	m.Apply("uid:1000", []Watch{{Kill: true, Path: "/user.slice/user-1000.slice/x", Property: "ManagedOOMSwap"}}, false)
	m.Apply(sourceSystem, []Watch{{Kill: true, Path: "/b", Property: "ManagedOOMSwap"}}, true) // a new subscription
	if got := sortedKeys(m.swap); !reflect.DeepEqual(got, []string{"/b", "/user.slice/user-1000.slice/x"}) {
		t.Errorf("swap watches %v", got)
	}
	m.Apply(sourceSystem, []Watch{{Kill: false, Path: "/b", Property: "ManagedOOMSwap"}}, false)
	if _, ok := m.swap["/b"]; ok {
		t.Error("mode auto did not remove the watch")
	}
	if got := fractionToPermyriad(1 << 31); got != 5000 {
		t.Errorf("50%% fraction → %d‱", got)
	}
}
