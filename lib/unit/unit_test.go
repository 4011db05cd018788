package unit

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func write(t testing.TB, root, p, content string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`/bin/echo a  b`, []string{"/bin/echo", "a", "b"}},
		{`/bin/echo "a b" 'c "d"'`, []string{"/bin/echo", "a b", `c "d"`}},
		{`x"y z"w`, []string{"xy zw"}},
		{`a\tb \x41 \\`, []string{"a\tb", "A", `\`}},
		{`""`, []string{""}},
	} {
		ws, err := SplitWords(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		var got []string
		for _, w := range ws {
			got = append(got, w.text)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{`"abc`, `abc\`, `\q`} {
		if _, err := SplitWords(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseExec(t *testing.T) {
	cmds, err := ParseExec(`-@/bin/sh mysh -c "echo hi" ; +/bin/true \;`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 {
		t.Fatalf("got %d commands", len(cmds))
	}
	c := cmds[0]
	if !c.IgnoreFailure || !c.Argv0 || c.Path != "/bin/sh" || !reflect.DeepEqual(c.Argv, []string{"mysh", "-c", "echo hi"}) {
		t.Errorf("cmd0 = %+v", c)
	}
	if c := cmds[1]; !c.Privileged || c.Path != "/bin/true" || !reflect.DeepEqual(c.Argv, []string{"/bin/true", ";"}) {
		t.Errorf("cmd1 = %+v", c)
	}
	if c, _ := ParseExec("!!/bin/x"); !c[0].AmbientOnly {
		t.Errorf("!! not parsed: %+v", c)
	}
	for _, bad := range []string{"-", "@/bin/x", "+!/bin/x", "--/bin/x"} {
		if _, err := ParseExec(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestExpandArgv(t *testing.T) {
	env := map[string]string{"A": "one two", "B": "x"}
	got := ExpandArgv([]string{"/bin/e", "$A", "${A}", "p${B}q", "$$A", "$NOPE", "a$B"}, env)
	want := []string{"/bin/e", "one", "two", "one two", "pxq", "$A", "a$B"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestSpecifiers(t *testing.T) {
	sp := Specifiers{Name: "getty@tty-1.service", Prefix: "getty", Instance: "tty-1"}
	got, err := sp.Expand("%n %N %p %i %I %f %t %S %%i")
	if err != nil {
		t.Fatal(err)
	}
	if want := "getty@tty-1.service getty@tty-1 getty tty-1 tty/1 /tty/1 /run /var/lib %i"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	for _, bad := range []string{"%", "%q", "a%"} {
		if _, err := sp.Expand(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestLoadTemplateDropinsWants(t *testing.T) {
	root := t.TempDir()
	write(t, root, "usr/lib/systemd/system/foo@.service", `[Unit]
Description=Foo for %I
After=net-%i.target
[Service]
Type=notify
ExecStart=/bin/foo --name=%i
Restart=on-failure
RestartSec=2s
Environment=A=1 "B=two words"
StartLimitBurst=3
`)
	write(t, root, "etc/systemd/system/foo@.service.d/10-x.conf", "[Service]\nRestartSec=5\n")
	write(t, root, "etc/systemd/system/service.d/99-all.conf", "[Service]\nTimeoutStopSec=7\n")
	write(t, root, "etc/systemd/system/foo@bar.service.d/20-y.conf", "[Unit]\nWants=x.service\n")
	write(t, root, "etc/systemd/system/foo@bar.service.wants/z.service", "")
	u, err := Load(root, "foo@bar.service", nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.LoadState != Loaded || len(u.Warnings) != 0 {
		t.Fatalf("state %s warnings %v", u.LoadState, u.Warnings)
	}
	if u.Unit.Description != "Foo for bar" || !reflect.DeepEqual(u.Unit.After, []string{"net-bar.target"}) {
		t.Errorf("unit = %+v", u.Unit)
	}
	if !reflect.DeepEqual(u.Unit.Wants, []string{"x.service", "z.service"}) {
		t.Errorf("wants = %v", u.Unit.Wants)
	}
	s := u.Service
	if s.Type != "notify" || s.RestartSec != 5*time.Second || s.TimeoutStop != 7*time.Second || s.Restart != "on-failure" {
		t.Errorf("service = %+v", s)
	}
	if !reflect.DeepEqual(s.ExecStart[0].Argv, []string{"/bin/foo", "--name=bar"}) {
		t.Errorf("argv = %q", s.ExecStart[0].Argv)
	}
	if !reflect.DeepEqual(s.Environment, []string{"A=1", "B=two words"}) {
		t.Errorf("env = %q", s.Environment)
	}
	if u.Unit.StartLimitBurst != 3 {
		t.Errorf("burst = %d", u.Unit.StartLimitBurst)
	}
}

func TestLoadMaskNotFoundBad(t *testing.T) {
	root := t.TempDir()
	write(t, root, "usr/lib/systemd/system/a.service", "[Service]\nExecStart=/bin/true\n")
	if err := os.MkdirAll(filepath.Join(root, "etc/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(root, "etc/systemd/system/a.service")); err != nil {
		t.Fatal(err)
	}
	u, err := Load(root, "a.service", nil)
	if err != nil || u.LoadState != Masked {
		t.Fatalf("a: %v %v", u, err)
	}
	u, err = Load(root, "none.service", nil)
	if err != nil || u.LoadState != NotFound {
		t.Fatalf("none: %v %v", u, err)
	}
	write(t, root, "etc/systemd/system/b.service", "[Service]\nRestart=sometimes\nExecStart=\"/bin/x\n")
	u, err = Load(root, "b.service", nil)
	if err != nil || u.LoadState != BadSetting {
		t.Fatalf("b: %v %v", u.LoadState, err)
	}
	if len(u.Warnings) < 3 || !strings.Contains(fmtErrs(u.Warnings), "b.service:2: Restart") || !strings.Contains(fmtErrs(u.Warnings), "b.service:3: ExecStart") {
		t.Errorf("warnings = %v", u.Warnings)
	}
	write(t, root, "etc/systemd/system/c.socket", "[Socket]\nListenStream=/run/c.sock\nSocketMode=0600\n")
	u, err = Load(root, "c.socket", nil)
	if err != nil || u.LoadState != Loaded || u.Socket.Service != "c.service" || u.Socket.SocketMode != 0o600 || u.Socket.FileDescriptorName != "c.socket" {
		t.Fatalf("c: %+v %v", u.Socket, err)
	}
	write(t, root, "etc/systemd/system/o.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/a\nExecStart=-/bin/b\n[Install]\nWantedBy=multi-user.target\n")
	u, err = Load(root, "o.service", nil)
	if err != nil || u.LoadState != Loaded || len(u.Service.ExecStart) != 2 || !u.Service.RemainAfterExit || u.Install.WantedBy[0] != "multi-user.target" {
		t.Fatalf("o: %+v %v", u.Service, err)
	}
	if u.Service.TimeoutStart != 0 || u.Service.TimeoutStop != 90*time.Second {
		t.Errorf("oneshot timeouts: start %v stop %v", u.Service.TimeoutStart, u.Service.TimeoutStop)
	}
}

func fmtErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}

func TestLoadRequiresDirTemplateAndDropinMask(t *testing.T) {
	root := t.TempDir()
	write(t, root, "usr/lib/systemd/system/w@.target", "[Unit]\nDescription=%i\n")
	write(t, root, "usr/lib/systemd/system/w@.target.requires/dep@.service", "")
	write(t, root, "usr/lib/systemd/system/target.d/10-a.conf", "[Unit]\nDescription=from type drop-in\n")
	u, err := Load(root, "w@x.target", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(u.Unit.Requires, []string{"dep@x.service"}) || u.Unit.Description != "from type drop-in" {
		t.Errorf("requires %v description %q", u.Unit.Requires, u.Unit.Description)
	}
	// A same-named drop-in in /etc that is a mask disables the vendor one.
	if err := os.MkdirAll(filepath.Join(root, "etc/systemd/system/target.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(root, "etc/systemd/system/target.d/10-a.conf")); err != nil {
		t.Fatal(err)
	}
	u, err = Load(root, "w@x.target", nil)
	if err != nil || u.Unit.Description != "x" {
		t.Errorf("masked drop-in still applied: %q %v", u.Unit.Description, err)
	}
	if _, err := Load(root, "w@.target", nil); err == nil {
		t.Error("loading a bare template succeeded")
	}
	for _, bad := range []string{"foo", "foo.bar", "a/b.service", "@x.service"} {
		if _, err := Load(root, bad, nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestEnvironmentFileAndSignals(t *testing.T) {
	got := LoadEnvironmentFile("# c\nA=1\nB='two words'\n;x\nC=\"q\"\nbad line\n1X=no\nexport D=1\n")
	if want := []string{"A=1", "B=two words", "C=q"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q want %q", got, want)
	}
	for in, want := range map[string]int{"SIGTERM": 15, "TERM": 15, "9": 9, "SIGHUP": 1, "SIGABRT": 6, "SIGRTMIN+3": 37} {
		if n, err := SignalNumber(in); err != nil || n != want {
			t.Errorf("%s: %d %v", in, n, err)
		}
	}
	for _, in := range []string{"SIGNOPE", "SIGRTMIN+31", "RTMIN+9223372036854775807"} {
		if n, err := SignalNumber(in); err == nil {
			t.Errorf("%s accepted as %d", in, n)
		}
	}
}
