package unit

import (
	"reflect"
	"strings"
	"testing"
)

func TestExitStatusSettings(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/systemd/system/x.service", `[Service]
ExecStart=/bin/x
SuccessExitStatus=1 2
SuccessExitStatus=
SuccessExitStatus=6 SIGUSR1 TEMPFAIL
SuccessExitStatus=HUP 256 bogus
RestartPreventExitStatus=3 SIGKILL
RestartForceExitStatus=NOTCONFIGURED
`)
	u, err := Load(root, "x.service", nil)
	if err != nil || u.LoadState != Loaded {
		t.Fatalf("x: %v %v", u.LoadState, err)
	}
	s := u.Service
	if want := (ExitStatusSet{Status: []int{6, 75}, Signal: []int{10, 1}}); !reflect.DeepEqual(s.SuccessExitStatus, want) {
		t.Errorf("SuccessExitStatus = %+v, want %+v", s.SuccessExitStatus, want)
	}
	if !s.SuccessExitStatus.HasStatus(6) || s.SuccessExitStatus.HasStatus(1) || !s.SuccessExitStatus.HasSignal(10) {
		t.Errorf("set tests wrong: %+v", s.SuccessExitStatus)
	}
	if want := (ExitStatusSet{Status: []int{3}, Signal: []int{9}}); !reflect.DeepEqual(s.RestartPreventExitStatus, want) {
		t.Errorf("RestartPreventExitStatus = %+v", s.RestartPreventExitStatus)
	}
	if want := (ExitStatusSet{Status: []int{6}}); !reflect.DeepEqual(s.RestartForceExitStatus, want) {
		t.Errorf("RestartForceExitStatus = %+v", s.RestartForceExitStatus)
	}
	w := fmtErrs(u.Warnings)
	if len(u.Warnings) != 2 || !strings.Contains(w, `x.service:6: SuccessExitStatus`) || !strings.Contains(w, `"256"`) || !strings.Contains(w, `"bogus"`) {
		t.Errorf("warnings = %v", u.Warnings)
	}
}

func TestServiceWithoutExecStart(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{
		"stoponly.service": "[Service]\nRemainAfterExit=yes\nExecStop=/bin/true\n",
		"simple.service":   "[Service]\nType=simple\nExecStop=/bin/true\n",
		"nothing.service":  "[Service]\nType=oneshot\nExecStopPost=/bin/true\n",
		"empty.service":    "[Service]\nRemainAfterExit=yes\n",
	} {
		write(t, root, "etc/systemd/system/"+name, body)
	}
	u, err := Load(root, "stoponly.service", nil)
	if err != nil || u.LoadState != Loaded || u.Service.Type != "oneshot" || len(u.Service.ExecStop) != 1 {
		t.Fatalf("stoponly: %v %+v %v %v", u.LoadState, u.Service, u.Warnings, err)
	}
	if u.Service.TimeoutStart != 0 {
		t.Errorf("stoponly: start timeout %v, want none as for any oneshot", u.Service.TimeoutStart)
	}
	u, err = Load(root, "simple.service", nil)
	if err != nil || u.LoadState != BadSetting || !strings.Contains(fmtErrs(u.Warnings), "only Type=oneshot") {
		t.Errorf("explicit Type=simple without ExecStart=: %v %v %v", u.LoadState, u.Warnings, err)
	}
	for _, n := range []string{"nothing.service", "empty.service"} {
		u, err = Load(root, n, nil)
		if err != nil || u.LoadState != BadSetting || !strings.Contains(fmtErrs(u.Warnings), "no ExecStart= or ExecStop=") {
			t.Errorf("%s: %v %v %v", n, u.LoadState, u.Warnings, err)
		}
	}
}
