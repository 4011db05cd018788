package unit

import (
	"strings"
	"testing"
	"time"
)

// TestBadTypedValues pins how bad booleans, time spans and counts are
// reported, and that they leave the defaults.
func TestBadTypedValues(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/systemd/system/v.service", `[Unit]
DefaultDependencies=maybe
StartLimitBurst=-1
StartLimitIntervalSec=
[Service]
ExecStart=/bin/true
RemainAfterExit=2
RestartSec=soon
TimeoutSec=
FileDescriptorStoreMax=+3
FileDescriptorStoreMax=-3
`)
	u, err := Load(root, "v.service", nil)
	if err != nil || u.LoadState != Loaded {
		t.Fatalf("%v %v", u, err)
	}
	want := `v.service:2: DefaultDependencies: invalid boolean "maybe"
v.service:4: StartLimitIntervalSec: invalid time span "": empty
v.service:3: StartLimitBurst: invalid unsigned integer "-1"
v.service:8: RestartSec: invalid time span "soon": number expected
v.service:7: RemainAfterExit: invalid boolean "2"
v.service:11: FileDescriptorStoreMax: invalid unsigned integer "-3"
`
	if got := strings.ReplaceAll(fmtErrs(u.Warnings), root+"/etc/systemd/system/", ""); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
	if !u.Unit.DefaultDependencies || u.Unit.StartLimitSet || u.Service.RemainAfterExit ||
		u.Service.RestartSec != 100*time.Millisecond || u.Service.TimeoutStop != 90*time.Second || u.Service.FileDescriptorStoreMax != 0 {
		t.Errorf("defaults not kept: %+v %+v", u.Unit, u.Service)
	}

	write(t, root, "etc/systemd/system/w.socket", "[Socket]\nListenStream=/run/w\nAccept=sure\nMaxConnections=0\n")
	u, err = Load(root, "w.socket", nil)
	if err != nil {
		t.Fatal(err)
	}
	want = `w.socket:3: Accept: invalid boolean "sure"
w.socket:4: MaxConnections: invalid positive integer "0"
`
	if got := strings.ReplaceAll(fmtErrs(u.Warnings), root+"/etc/systemd/system/", ""); got != want || u.Socket.Accept || u.Socket.MaxConnections != 64 {
		t.Errorf("socket %+v, warnings:\n%s", u.Socket, got)
	}
}

// TestFileDescriptorStorePreserve: the default is restart; booleans, restart and on-success
// are accepted; anything else is reported and the default kept.
func TestFileDescriptorStorePreserve(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct{ in, want, warn string }{
		{"", "restart", ""},
		{"FileDescriptorStorePreserve=yes\n", "yes", ""},
		{"FileDescriptorStorePreserve=false\n", "no", ""},
		{"FileDescriptorStorePreserve=restart\n", "restart", ""},
		{"FileDescriptorStorePreserve=on-success\n", "on-success", ""},
		{"FileDescriptorStorePreserve=later\n", "restart", `unknown value "later"`},
	} {
		write(t, root, "etc/systemd/system/p.service", "[Service]\nExecStart=/bin/true\n"+c.in)
		u, err := Load(root, "p.service", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Service.FileDescriptorStorePreserve; got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
		if w := fmtErrs(u.Warnings); (c.warn == "") != (w == "") || !strings.Contains(w, c.warn) {
			t.Errorf("%q: warnings %q, want %q", c.in, w, c.warn)
		}
	}
}
