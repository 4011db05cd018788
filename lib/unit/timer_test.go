package unit

import (
	"strings"
	"testing"
	"time"
)

func TestTimerSection(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/systemd/system/t.timer", `[Timer]
OnBootSec=5min
OnCalendar=daily
OnUnitActiveSec=1h 30min
OnActiveSec=
OnActiveSec=2s
OnCalendar=Mon..Fri 10:00 UTC
OnCalendar=tomorrow
AccuracySec=1us
RandomizedDelaySec=10s
FixedRandomDelay=yes
Persistent=true
WakeSystem=yes
RemainAfterElapse=no
Frobnicate=1
`)
	u, err := Load(root, "t.timer", nil)
	if err != nil || u.LoadState != Loaded {
		t.Fatalf("%v %v", u, err)
	}
	tm := u.Timer
	var got []string
	for _, v := range tm.Values {
		if v.Calendar != nil {
			got = append(got, string(v.Base)+"="+v.Calendar.String())
		} else {
			got = append(got, string(v.Base)+"="+v.Span.String())
		}
	}
	if g := strings.Join(got, ","); g != "OnActiveUSec=2s,OnCalendar=Mon..Fri *-*-* 10:00:00 UTC" {
		t.Errorf("values: %s", g)
	}
	if tm.Unit != "t.service" || tm.Accuracy != time.Microsecond || tm.RandomizedDelay != 10*time.Second ||
		!tm.FixedRandomDelay || !tm.Persistent || tm.WakeSystem || tm.RemainAfterElapse {
		t.Errorf("settings: %+v", tm)
	}
	w := strings.ReplaceAll(fmtErrs(u.Warnings), root+"/etc/systemd/system/", "")
	for _, want := range []string{`t.timer:8: OnCalendar: invalid calendar specification "tomorrow"`,
		"t.timer:13: WakeSystem: waking the system from suspend is not supported",
		"t.timer:15: Unknown key 'Frobnicate' in section [Timer]"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}

	write(t, root, "etc/systemd/system/empty.timer", "[Timer]\nUnit=x.service\n")
	if u, _ := Load(root, "empty.timer", nil); u.LoadState != BadSetting {
		t.Errorf("a timer without values: %s", u.LoadState)
	}
	write(t, root, "etc/systemd/system/u.timer", "[Timer]\nOnActiveSec=1\nUnit=other.target\n")
	if u, _ := Load(root, "u.timer", nil); u.Timer.Unit != "other.target" || u.Timer.Accuracy != time.Minute {
		t.Errorf("Unit=: %+v", u.Timer)
	}
}
