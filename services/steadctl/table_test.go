package steadctl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

func testUnit(id, desc, load, active, sub string) iosystemdunit.Unit {
	return iosystemdunit.Unit{Context: iosystemdunit.UnitContext{ID: id, Description: desc},
		Runtime: iosystemdunit.UnitRuntime{LoadState: load, ActiveState: active, SubState: sub}}
}

func ptr[T any](v T) *T { return &v }

func TestWriteTableAlignsAndMarks(t *testing.T) {
	units := []iosystemdunit.Unit{
		testUnit("zeta.service", "Zeta", "loaded", "active", "running"),
		testUnit("a.target", "", "loaded", "active", "active"),
		testUnit("broken.service", "Broken", "loaded", "failed", "failed"),
		testUnit("idle.service", "Idle", "loaded", "inactive", "dead"),
	}
	var b bytes.Buffer
	if err := writeTable(&b, listRows(units, listFilter{}), true, false); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"  UNIT           LOAD   ACTIVE SUB     DESCRIPTION\n" +
		"  a.target       loaded active active  a.target\n" +
		"● broken.service loaded failed failed  Broken\n" +
		"  zeta.service   loaded active running Zeta\n"
	got := b.String()
	if !strings.HasPrefix(got, want) {
		t.Errorf("table:\n%s\nwant it to start with:\n%s", got, want)
	}
	if !strings.Contains(got, "\n3 units listed. Pass --all to include inactive units.\n") {
		t.Errorf("no count line in:\n%s", got)
	}
	if strings.Contains(got, "idle.service") {
		t.Errorf("inactive unit listed without --all:\n%s", got)
	}
}

func TestListFilterAllAndPatterns(t *testing.T) {
	units := []iosystemdunit.Unit{
		testUnit("a.service", "", "loaded", "inactive", "dead"),
		testUnit("b.socket", "", "not-found", "inactive", "dead"),
		testUnit("c.service", "", "loaded", "active", "running"),
	}
	units[0].Runtime.JobId = ptr(7) // a queued job shows an inactive unit
	rows := listRows(units, listFilter{})
	if len(rows) != 2 || rows[0].Unit != "a.service" || rows[1].Unit != "c.service" {
		t.Errorf("default filter: %+v", rows)
	}
	if rows := listRows(units, listFilter{all: true}); len(rows) != 3 {
		t.Errorf("--all: %+v", rows)
	}
	if rows := listRows(units, listFilter{all: true, patterns: []string{"*.socket"}}); len(rows) != 1 || rows[0].Unit != "b.socket" {
		t.Errorf("pattern: %+v", rows)
	}
	if rows := listRows(units, listFilter{all: true, patterns: []string{"c"}}); len(rows) != 1 || rows[0].Unit != "c.service" {
		t.Errorf("pattern without a suffix or glob (systemctl adds .service): %+v", rows)
	}
	var b bytes.Buffer
	if err := writeTable(&b, listRows(units, listFilter{}), false, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "UNIT") || strings.Count(b.String(), "\n") != 2 {
		t.Errorf("--no-legend output:\n%s", b.String())
	}
}

func TestListJSON(t *testing.T) {
	var b bytes.Buffer
	rows := listRows([]iosystemdunit.Unit{testUnit("x.service", "X", "loaded", "active", "running")}, listFilter{})
	if err := writeJSON(&b, rows, false); err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["unit"] != "x.service" || got[0]["sub"] != "running" || got[0]["description"] != "X" {
		t.Errorf("json: %s", b.String())
	}
}

func TestShowProperties(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := testUnit("s.service", "S", "loaded", "failed", "failed")
	u.Runtime.ActiveEnterTimestamp = &iosystemdunit.Timestamp{Realtime: start.UnixMicro(), Monotonic: 42}
	u.Runtime.InvocationID = "0123456789abcdef0123456789abcdef"
	u.Runtime.Service = &iosystemdunit.ServiceRuntime{Result: "exit_code", NRestarts: 2,
		ExecMain: &iosystemdunit.ExecCommandStatus{PID: iosystemdunit.ProcessId{PID: 99}, Code: ptr(2), Status: ptr(9)}}
	u.Context.After = []string{"a.target", "b.service"}
	var b bytes.Buffer
	o := showOptions{props: []string{"ActiveState", "ExecMainCode", "ExecMainStatus", "NRestarts", "After",
		"ActiveEnterTimestampMonotonic", "InactiveEnterTimestamp", "Bogus", "Result"}}
	if err := writeShow(&b, properties(&u), o); err != nil {
		t.Fatal(err)
	}
	// systemctl's order (the properties' own, as on the bus), not the order asked for.
	want := "Result=exit-code\nNRestarts=2\nExecMainCode=2\nExecMainStatus=9\nAfter=a.target b.service\n" +
		"ActiveState=failed\nActiveEnterTimestampMonotonic=42\nInactiveEnterTimestamp=n/a\n"
	if b.String() != want {
		t.Errorf("show:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := writeShow(&b, properties(&u), showOptions{props: []string{"InvocationID", "InvocationID"}, valueOnly: true}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "0123456789abcdef0123456789abcdef\n" {
		t.Errorf("--value: %q", b.String())
	}
	if p := showJSON(properties(&u), showOptions{}); p["Id"] != "s.service" || p["MainPID"] != "0" || p["ExecMainPID"] != "99" {
		t.Errorf("json: %v", p)
	}
}

func TestWriteStatus(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	u := testUnit("w.service", "Worker", "loaded", "failed", "failed")
	u.Context.FragmentPath = "/etc/systemd/system/w.service"
	u.Runtime.InactiveEnterTimestamp = &iosystemdunit.Timestamp{Realtime: since.UnixMicro()}
	u.Runtime.Service = &iosystemdunit.ServiceRuntime{Result: "exit_code",
		ExecMain: &iosystemdunit.ExecCommandStatus{PID: iosystemdunit.ProcessId{PID: 12}, Code: ptr(1), Status: ptr(1)}}
	var b bytes.Buffer
	if err := writeStatus(&b, &u, t.TempDir(), since.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	want := "× w.service - Worker\n" +
		"     Loaded: loaded (/etc/systemd/system/w.service)\n" +
		"     Active: failed (Result: exit-code) since " + since.Format(timeLayout) + "; 1min 30s ago\n" +
		"   Main PID: 12 (code=exited, status=1/FAILURE)\n"
	if b.String() != want {
		t.Errorf("status:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestFormatSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0s",
		250 * time.Millisecond:             "250ms",
		1*time.Second + 4*time.Millisecond: "1s",
		61 * time.Second:                   "1min 1s",
		2*time.Hour + 5*time.Minute + 3*time.Second: "2h 5min",
		3*time.Hour + 4*time.Second:                 "3h",
		24 * time.Hour:                              "1 day",
		50 * time.Hour:                              "2 days",
	} {
		if got := formatSpan(d); got != want {
			t.Errorf("formatSpan(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestWriteJobs(t *testing.T) {
	var b bytes.Buffer
	jobs := []queuedJob{{ID: 7, Unit: "a.service", JobType: "start", State: "running"}, {ID: 12, Unit: "longer.service", JobType: "stop", State: "waiting"}}
	if err := writeJobs(&b, jobs, true); err != nil {
		t.Fatal(err)
	}
	want := "JOB UNIT           TYPE  STATE\n7   a.service      start running\n12  longer.service stop  waiting\n\n2 jobs listed.\n"
	if b.String() != want {
		t.Errorf("list-jobs:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	if err := writeJobs(&b, nil, true); err != nil || b.String() != "No jobs running.\n" {
		t.Errorf("empty: %q %v", b.String(), err)
	}
}

// TestDecodeUpstreamReply decodes an io.systemd.Unit.List reply shaped as systemd 262 sends
// it (ProcessId objects, CLD_* codes, ServiceResult with underscores).
func TestDecodeUpstreamReply(t *testing.T) {
	raw := `{"context":{"Type":"service","ID":"u.service","Description":"U"},
		"runtime":{"LoadState":"loaded","ActiveState":"failed","SubState":"failed","CanStart":true,
		"ConditionResult":true,"AssertResult":false,"ConditionTimestamp":{"realtime":1700000000000000,"monotonic":77},
		"Service":{"MainPID":{"pid":0},"Result":"start_limit_hit","ReloadResult":"success","NRestarts":4,
		"ExecMain":{"PID":{"pid":321,"pidfdId":9},"Code":1,"Status":2}}}}`
	var u iosystemdunit.Unit
	if err := json.Unmarshal([]byte(raw), &u); err != nil {
		t.Fatal(err)
	}
	got := showJSON(properties(&u), showOptions{props: []string{"Result", "NRestarts", "ExecMainPID", "ExecMainCode", "ExecMainStatus", "CanStart", "CanReload",
		"ConditionResult", "AssertResult", "ConditionTimestampMonotonic", "AssertTimestamp"}})
	want := map[string]string{"Result": "start-limit-hit", "NRestarts": "4", "ExecMainPID": "321", "ExecMainCode": "1",
		"ExecMainStatus": "2", "CanStart": "yes", "CanReload": "no", "ConditionResult": "yes", "AssertResult": "no",
		"ConditionTimestampMonotonic": "77", "AssertTimestamp": "n/a"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
}

func TestShowOOMSettings(t *testing.T) {
	limit, dur := int64(2147483648), int64(20_000_000)
	u := testUnit("p.service", "", "loaded", "active", "running")
	u.Context.CGroup = &iosystemdunit.CGroupContext{Slice: "system.slice", ManagedOOMSwap: "auto", ManagedOOMMemoryPressure: "kill",
		ManagedOOMMemoryPressureLimit: &limit, ManagedOOMMemoryPressureDurationUSec: &dur, ManagedOOMPreference: "avoid",
		OOMRules: []string{"a", "b"}}
	got := showJSON(properties(&u), showOptions{})
	for k, v := range map[string]string{"Slice": "system.slice", "ManagedOOMMemoryPressure": "kill",
		"ManagedOOMMemoryPressureLimit": "50.00%", "ManagedOOMMemoryPressureDurationUSec": "20s",
		"ManagedOOMPreference": "avoid", "OOMRules": "a b"} {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
}

func TestWriteStatusConditionAndAssert(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	u := testUnit("c.service", "", "loaded", "inactive", "dead")
	u.Runtime.ConditionResult, u.Runtime.AssertResult = false, false
	u.Runtime.ConditionTimestamp = &iosystemdunit.Timestamp{Realtime: at.UnixMicro()}
	var b bytes.Buffer
	if err := writeStatus(&b, &u, t.TempDir(), at.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if want := "  Condition: start condition unmet at " + at.Format(timeLayout) + "; 5s ago\n"; !strings.Contains(b.String(), want) || strings.Contains(b.String(), "Assert:") {
		t.Errorf("status:\n%s\nwant a line %q and no Assert: line", b.String(), want)
	}
	u.Runtime.ConditionResult = true
	u.Runtime.AssertTimestamp = &iosystemdunit.Timestamp{Realtime: at.UnixMicro()}
	b.Reset()
	if err := writeStatus(&b, &u, t.TempDir(), at.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if want := "     Assert: start assertion failed at " + at.Format(timeLayout) + "; 5s ago\n"; !strings.Contains(b.String(), want) || strings.Contains(b.String(), "Condition:") {
		t.Errorf("status:\n%s\nwant a line %q and no Condition: line", b.String(), want)
	}
}

func TestWriteStatusNotLoaded(t *testing.T) {
	for state, want := range map[string]string{
		"masked":      "○ x.service\n     Loaded: masked (Reason: Unit x.service is masked.)\n     Active: inactive (dead)\n",
		"bad-setting": "○ x.service\n     Loaded: bad-setting (Reason: Unit x.service has a bad unit file setting.)\n     Active: inactive (dead)\n",
	} {
		u := notLoaded("x.service", state)
		var b strings.Builder
		if err := writeStatus(&b, &u, t.TempDir(), time.Unix(1e9, 0)); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%s:\n%s\nwant\n%s", state, b.String(), want)
		}
	}
}
