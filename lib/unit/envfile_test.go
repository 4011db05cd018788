package unit

import (
	"reflect"
	"testing"
)

// The cases follow systemd.exec(5)'s description of EnvironmentFile= syntax.
func TestParseEnvironmentFileQuoting(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"A=1\n", []string{"A=1"}},
		{"  A  =  x y  \n", []string{"A=x y"}},                // whitespace around name and value dropped, inner kept
		{"A=a\\\nb\n", []string{"A=ab"}},                      // unquoted continuation
		{`A=a\\b\"c` + "\n", []string{`A=a\b"c`}},             // unquoted backslash keeps the next char
		{`A=x"y"'z'` + "\n", []string{`A=x"y"'z'`}},           // quotes after the first character are literal
		{"A='x \\n\ny'\n", []string{"A=x \\n\ny"}},            // single quotes: verbatim, multi-line
		{`A="a\"b\\c\$d\e"` + "\n", []string{`A=a"b\c$d\e`}},  // double quotes: only \" \\ \` \$
		{"A=\"a\\\nb\"\n", []string{"A=ab"}},                  // double-quoted continuation
		{`A="x" 'y'` + "\n", []string{"A=xy"}},                // text after a closing quote joins
		{"# A=1\n; B=2\nC=3\n", []string{"C=3"}},              // comments
		{"#x \\\nA=1\n", []string{"A=1"}},                     // a comment does not continue (v254+)
		{"A\nB=1\n", []string{"B=1"}},                         // no "=": ignored
		{"A=\n", []string{"A="}},                              // empty value
		{"A=1\nA=2\nB=3", []string{"A=2", "B=3"}},             // later wins, no final newline needed
		{"1A=x\nexport B=1\nC-D=2\nE=ok\n", []string{"E=ok"}}, // invalid names dropped
		{"A=\"unterminated\n", []string{"A=unterminated\n"}},  // EOF inside quotes still assigns
		{"A=1\r\nB=2\r\n", []string{"A=1", "B=2"}},            // CRLF
	} {
		if got := LoadEnvironmentFile(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCredentialSpecs(t *testing.T) {
	lc, err := ParseLoadCredential("key:/etc/key")
	if err != nil || lc != (LoadCredential{ID: "key", Path: "/etc/key"}) {
		t.Errorf("LoadCredential key:/etc/key = %+v, %v", lc, err)
	}
	if lc, err := ParseLoadCredential("tok"); err != nil || lc.Path != "tok" {
		t.Errorf("LoadCredential tok = %+v, %v", lc, err)
	}
	for _, bad := range []string{"", ":x", "a/b:/x", "..:/x", "a:rel/path"} {
		if _, err := ParseLoadCredential(bad); err == nil {
			t.Errorf("LoadCredential=%q accepted", bad)
		}
	}
	sc, err := ParseSetCredential(`name:a\nb\x00c:d`)
	if err != nil || sc.ID != "name" || string(sc.Value) != "a\nb\x00c:d" {
		t.Errorf("SetCredential = %+v, %v", sc, err)
	}
	for _, bad := range []string{"novalue", ":x", "a/b:x", `a:\q`} {
		if _, err := ParseSetCredential(bad); err == nil {
			t.Errorf("SetCredential=%q accepted", bad)
		}
	}
	for _, tc := range []struct{ spec, name, want string }{
		{"foo.*", "foo.bar", "foo.bar"},
		{"foo.*", "fob", ""},
		{"*", "x", "x"},
		{"foo.*:bar.", "foo.x", "bar.x"},
		{"one", "one", "one"},
		{"one:two", "one", "two"},
		{"one", "one2", ""},
	} {
		ic, err := ParseImportCredential(tc.spec)
		if err != nil {
			t.Errorf("ImportCredential=%s: %v", tc.spec, err)
			continue
		}
		got, ok := ic.Match(tc.name)
		if (tc.want == "") == ok || got != tc.want {
			t.Errorf("ImportCredential=%s matching %q: %q %v, want %q", tc.spec, tc.name, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "a*b", "a?", "[ab]", "x:", "x:a/b", "a*:b*"} {
		if _, err := ParseImportCredential(bad); err == nil {
			t.Errorf("ImportCredential=%q accepted", bad)
		}
	}
}

func TestServiceExecEnvironmentSettings(t *testing.T) {
	root := t.TempDir()
	write(t, root, "/etc/systemd/system/x.service", `[Service]
ExecStart=/bin/true
User=svc
Group=grp
SupplementaryGroups=a b
SupplementaryGroups=c
WorkingDirectory=~
RuntimeDirectory=x x/sub
RuntimeDirectoryMode=0700
StateDirectory=../bad /abs ok
EnvironmentFile=relative
EnvironmentFile=-/etc/x.env
LoadCredential=a:/etc/a
LoadCredential=b
SetCredential=c:v
ImportCredential=d.*
`)
	write(t, root, "/etc/systemd/system/y.socket", "[Socket]\nListenDatagram=/run/d\nListenStream=/run/s\nListenStream=\nListenStream=/run/s2\nListenDatagram=/run/d2\n")
	write(t, root, "/etc/systemd/system/z.socket", "[Socket]\nListenDatagram=/run/d\nAccept=yes\n")
	u, err := Load(root, "x.service", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := u.Service
	if s.User != "svc" || s.Group != "grp" || !reflect.DeepEqual(s.SupplementaryGroups, []string{"a", "b", "c"}) || s.WorkingDirectory != "~" {
		t.Errorf("user settings: %+v", s)
	}
	if !reflect.DeepEqual(s.RuntimeDirectory, []string{"x", "x/sub"}) || s.RuntimeDirectoryMode != 0o700 || s.StateDirectoryMode != 0o755 {
		t.Errorf("runtime dirs: %q %o", s.RuntimeDirectory, s.RuntimeDirectoryMode)
	}
	if !reflect.DeepEqual(s.StateDirectory, []string{"ok"}) {
		t.Errorf("StateDirectory: %q", s.StateDirectory)
	}
	if !reflect.DeepEqual(s.EnvironmentFiles, []string{"-/etc/x.env"}) {
		t.Errorf("EnvironmentFiles: %q", s.EnvironmentFiles)
	}
	if len(s.LoadCredentials) != 2 || len(s.SetCredentials) != 1 || len(s.ImportCredentials) != 1 {
		t.Errorf("credentials: %+v %+v %+v", s.LoadCredentials, s.SetCredentials, s.ImportCredentials)
	}
	y, err := Load(root, "y.socket", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Listen{{"stream", "/run/s2"}, {"datagram", "/run/d2"}}; !reflect.DeepEqual(y.Socket.Listen, want) || y.Socket.MaxConnections != 64 {
		t.Errorf("Listen: %+v", y.Socket.Listen)
	}
	for body, want := range map[string][3]string{
		"":                       {"null", "log", "inherit"},
		"StandardInput=socket\n": {"socket", "inherit", "inherit"},
		"StandardOutput=journal+console\nStandardError=null\n": {"null", "log", "null"},
		"StandardInput=tty\nStandardOutput=file:/x\n":          {"null", "log", "inherit"},
	} {
		write(t, root, "/etc/systemd/system/io.service", "[Service]\nExecStart=/bin/true\n"+body)
		u, err := Load(root, "io.service", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := [3]string{u.Service.StandardInput, u.Service.StandardOutput, u.Service.StandardError}; got != want {
			t.Errorf("%q: streams %q, want %q", body, got, want)
		}
	}
	z, err := Load(root, "z.socket", nil)
	if err != nil {
		t.Fatal(err)
	}
	if z.LoadState != BadSetting {
		t.Errorf("Accept=yes datagram socket: %s", z.LoadState)
	}
}
