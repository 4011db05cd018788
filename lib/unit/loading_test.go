package unit

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestDropinOrder checks upstream's precedence: among same-name drop-ins the unit's own
// directories win over dash-prefix ones in a lower search directory only by search path, and
// over the type-wide service.d/ whatever its directory; all apply in file-name order.
func TestDropinOrder(t *testing.T) {
	root := t.TempDir()
	write(t, root, "usr/lib/systemd/system/foo-bar-baz.service", "[Service]\nExecStart=/bin/true\nEnvironment=MAIN=1\n")
	write(t, root, "usr/lib/systemd/system/foo-bar-baz.service.d/50-x.conf", "[Service]\nEnvironment=X=unit\n")
	write(t, root, "etc/systemd/system/service.d/50-x.conf", "[Service]\nEnvironment=X=typewide\n")
	write(t, root, "etc/systemd/system/service.d/10-a.conf", "[Service]\nEnvironment=A=typewide\n")
	write(t, root, "usr/lib/systemd/system/foo-.service.d/20-dash.conf", "[Service]\nEnvironment=DASH=foo-\n")
	write(t, root, "usr/lib/systemd/system/foo-bar-.service.d/20-dash.conf", "[Service]\nEnvironment=DASH=foo-bar-\n")
	write(t, root, "etc/systemd/system/foo-.service.d/30-etc.conf", "[Service]\nEnvironment=ETC=foo-\n")
	write(t, root, "usr/lib/systemd/system/foo-bar-baz.service.d/30-etc.conf", "[Service]\nEnvironment=ETC=unit\n")
	u, err := Load(root, "foo-bar-baz.service", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range u.DropIns {
		got = append(got, d)
	}
	want := []string{
		"/etc/systemd/system/service.d/10-a.conf",
		"/usr/lib/systemd/system/foo-bar-.service.d/20-dash.conf", // foo-bar- before foo-: the more specific
		"/etc/systemd/system/foo-.service.d/30-etc.conf",          // /etc beats /usr/lib for the same name
		"/usr/lib/systemd/system/foo-bar-baz.service.d/50-x.conf", // the unit's own beats service.d/ in /etc
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("drop-ins:\n got %q\nwant %q", got, want)
	}
	env := strings.Join(u.Service.Environment, " ")
	if env != "MAIN=1 A=typewide DASH=foo-bar- ETC=foo- X=unit" {
		t.Errorf("environment %q", env)
	}
}

func TestDropinDirsTemplatesAndAliases(t *testing.T) {
	got := dropinDirs([]string{"/etc/systemd/system", "/usr/lib/systemd/system"}, []string{"a-b@x.service", "c@x.service"}, ".d")
	want := []string{
		"/etc/systemd/system/a-b@x.service.d", "/etc/systemd/system/a-b@.service.d", "/etc/systemd/system/a-.service.d",
		"/etc/systemd/system/a-@x.service.d", "/etc/systemd/system/a-@.service.d",
		"/usr/lib/systemd/system/a-b@x.service.d", "/usr/lib/systemd/system/a-b@.service.d", "/usr/lib/systemd/system/a-.service.d",
		"/usr/lib/systemd/system/a-@x.service.d", "/usr/lib/systemd/system/a-@.service.d",
		"/etc/systemd/system/c@x.service.d", "/etc/systemd/system/c@.service.d",
		"/usr/lib/systemd/system/c@x.service.d", "/usr/lib/systemd/system/c@.service.d",
		"/etc/systemd/system/service.d", "/usr/lib/systemd/system/service.d",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	for in, want := range map[string]string{"foo-bar-baz": "foo-bar-", "foo-bar-": "foo-", "foo-": "", "foo": "", "-foo": ""} {
		if got, _ := dashPrefix(in); got != want {
			t.Errorf("dashPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAliases: a symlink in the search path is another name of the unit it points at, also for
// templates' instances; its drop-in directory applies; loading by the alias gives the unit.
func TestAliases(t *testing.T) {
	root := t.TempDir()
	write(t, root, "usr/lib/systemd/system/real.service", "[Service]\nExecStart=/bin/true\n")
	write(t, root, "etc/systemd/system/alias.service.d/x.conf", "[Service]\nEnvironment=FROM_ALIAS=1\n")
	write(t, root, "usr/lib/systemd/system/tmpl@.service", "[Service]\nExecStart=/bin/echo %n %p %i\n")
	for link, target := range map[string]string{
		"usr/lib/systemd/system/alias.service":  "real.service",
		"etc/systemd/system/alias2.service":     "/usr/lib/systemd/system/alias.service", // a chain
		"usr/lib/systemd/system/other@.service": "tmpl@.service",
		"etc/systemd/system/masked.service":     "/dev/null",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"real.service", "alias.service", "alias2.service"} {
		u, err := Load(root, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "real.service" || !reflect.DeepEqual(u.Names, []string{"real.service", "alias.service", "alias2.service"}) {
			t.Errorf("%s: name %s, names %v", name, u.Name, u.Names)
		}
		if strings.Join(u.Service.Environment, " ") != "FROM_ALIAS=1" {
			t.Errorf("%s: the alias's drop-in does not apply: %v", name, u.Service.Environment)
		}
	}
	u, err := Load(root, "other@x.service", nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "tmpl@x.service" || !reflect.DeepEqual(u.Names, []string{"tmpl@x.service", "other@x.service"}) {
		t.Errorf("instance alias: %s %v", u.Name, u.Names)
	}
	if got := strings.Join(u.Service.ExecStart[0].Argv, " "); got != "/bin/echo tmpl@x.service tmpl x" {
		t.Errorf("specifiers of an aliased instance: %q", got)
	}
	if m, _ := Load(root, "masked.service", nil); m.LoadState != Masked || len(m.Names) != 1 {
		t.Errorf("a mask is no alias: %+v", m)
	}
}

// TestSpecifiersAll expands every specifier systemd.unit(5) lists for an instance with
// escapes, against a root with its own machine ID, os-release and boot ID.
func TestSpecifiersAll(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n")
	write(t, root, "etc/os-release", "ID=stead\nVERSION_ID=\"1.2\"\nVARIANT_ID=cloud\nBUILD_ID=b7\nIMAGE_ID=img\nIMAGE_VERSION=9\n")
	write(t, root, "proc/sys/kernel/random/boot_id", "01234567-89ab-cdef-0123-456789abcdef\n")
	h := readHost(root)
	sp := Specifiers{Name: `foo-bar@a\x2db-c.service`, Prefix: "foo-bar", Instance: `a\x2db-c`,
		Fragment: "/usr/lib/systemd/system/foo-bar@.service", Host: h}
	for spec, want := range map[string]string{
		"%n": `foo-bar@a\x2db-c.service`, "%N": `foo-bar@a\x2db-c`, "%p": "foo-bar", "%P": "foo/bar",
		"%i": `a\x2db-c`, "%I": "a-b/c", "%j": "bar", "%J": "bar", "%f": "/a-b/c",
		"%y": "/usr/lib/systemd/system/foo-bar@.service", "%Y": "/usr/lib/systemd/system",
		"%d": `/run/credentials/foo-bar@a\x2db-c.service`, "%t": "/run", "%S": "/var/lib", "%C": "/var/cache",
		"%L": "/var/log", "%E": "/etc", "%T": "/tmp", "%V": "/var/tmp", "%h": "/root", "%s": "/bin/sh",
		"%u": "root", "%U": "0", "%g": "root", "%G": "0", "%m": "0123456789abcdef0123456789abcdef",
		"%b": "0123456789abcdef0123456789abcdef", "%o": "stead", "%w": "1.2", "%W": "cloud", "%B": "b7",
		"%M": "img", "%A": "9", "%a": h.Arch, "%v": h.KernelRelease, "%H": h.Hostname, "%q": h.PrettyName,
		"%%": "%",
	} {
		got, err := sp.Expand(spec)
		if err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", spec, got, err, want)
		}
	}
	if got, _ := sp.Expand("%l"); strings.Contains(got, ".") || got == "" {
		t.Errorf("%%l = %q", got)
	}
	if _, err := sp.Expand("%Z"); err == nil {
		t.Error("%Z: no error")
	}
	if _, err := (Specifiers{Host: &Host{}}).Expand("%m"); err == nil {
		t.Error("%m without a machine ID: no error")
	}
}

// TestExecAndEnvironmentQuoting: words are split before specifiers expand, so escaped
// instance names stay escaped; unknown escapes stay verbatim in command lines (a warning) and
// end an Environment= line (the assignments before them are kept), as upstream reads them.
func TestExecAndEnvironmentQuoting(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/systemd/system/q@.service", `[Service]
ExecStart=/bin/echo a\ b "c d" 'e f' \x41 %i %I \q $X
ExecStartPost=-/bin/echo %Z
Environment=A=%i B=a\ b "C=x y"
Environment="D=1 2" E=\x41
`)
	u, err := Load(root, `q@a\x2db.service`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.LoadState != Loaded {
		t.Fatalf("load state %s: %v", u.LoadState, u.Warnings)
	}
	got := u.Service.ExecStart[0].Argv
	want := []string{"/bin/echo", `a\ b`, "c d", "e f", "A", `a\x2db`, "a-b", `\q`, "$X"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("argv %q, want %q", got, want)
	}
	if len(u.Service.ExecStartPost) != 0 {
		t.Errorf("a command with an unknown specifier is dropped: %v", u.Service.ExecStartPost)
	}
	if env := u.Service.Environment; !reflect.DeepEqual(env, []string{`A=a\x2db`, "D=1 2", "E=A"}) {
		t.Errorf("environment %q", env)
	}
	var msgs []string
	for _, w := range u.Warnings {
		msgs = append(msgs, w.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"q@.service:2: ExecStart: ignoring unknown escape sequences", "q@.service:3: ExecStartPost:",
		"q@.service:4: Environment: invalid syntax"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning %q in:\n%s", want, all)
		}
	}
}

// TestUnknownKeysAndSections: unknown keys and sections warn with file:line, keys upstream
// knows that stead does not apply are reported as not supported, X- ones are silent.
func TestUnknownKeysAndSections(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/systemd/system/k.service", `[Unit]
Description=k
X-Custom=1
[Service]
ExecStrat=/bin/false
ExecStart=/bin/true
ProtectKernelTunables=yes
[Foo]
Bar=1
[X-Vendor]
Z=1
[Socket]
ListenStream=/x
`)
	u, err := Load(root, "k.service", nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, w := range u.Warnings {
		msgs = append(msgs, w.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"k.service:5: Unknown key 'ExecStrat' in section [Service], ignoring",
		"k.service:8: Unknown section 'Foo' in a service unit, ignoring",
		"k.service:12: Unknown section 'Socket' in a service unit, ignoring",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if strings.Contains(all, "X-") || strings.Contains(all, "Description") || strings.Contains(all, "'ExecStart'") {
		t.Errorf("warned about what is applied or for others:\n%s", all)
	}
	if u.LoadState != Loaded {
		t.Errorf("unknown keys must not fail the unit: %s", u.LoadState)
	}
}

// TestImplicitDependencies covers the default and implicit dependencies of the main types.
func TestImplicitDependencies(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/systemd/system/s.service", "[Service]\nExecStart=/bin/true\nStateDirectory=s\nPrivateTmp=yes\n")
	write(t, root, "etc/systemd/system/i@.service", "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/true\nStandardOutput=null\n")
	write(t, root, "etc/systemd/system/s.socket", "[Socket]\nListenStream=/run/s\n")
	write(t, root, "etc/systemd/system/n.socket", "[Socket]\nListenNetlink=route 1361\nListenSpecial=/dev/rfkill\n")
	write(t, root, "etc/systemd/system/t.timer", "[Timer]\nOnCalendar=daily\nUnit=s.service\n")
	s, _ := Load(root, "s.service", nil)
	wantS := Deps{DepRequires: {"system.slice", "sysinit.target"}, DepAfter: {"system.slice", "systemd-journald.socket",
		"systemd-remount-fs.service", "systemd-tmpfiles-setup.service", "sysinit.target", "basic.target"},
		DepConflicts: {"shutdown.target"}, DepBefore: {"shutdown.target"}}
	if !reflect.DeepEqual(s.Implicit, wantS) {
		t.Errorf("service: %v", s.Implicit)
	}
	if req, wants := s.MountPaths(); !reflect.DeepEqual(req, []string{"/var/lib/s"}) || !reflect.DeepEqual(wants, []string{"/tmp", "/var/tmp"}) {
		t.Errorf("mount paths %v %v", req, wants)
	}
	i, _ := Load(root, `i@a-b.service`, nil)
	if !reflect.DeepEqual(i.Implicit, Deps{DepRequires: {`system-i.slice`}, DepAfter: {`system-i.slice`}}) {
		t.Errorf("instance: %v", i.Implicit)
	}
	sock, _ := Load(root, "s.socket", nil)
	if !contains(sock.Implicit[DepTriggers], "s.service") || !contains(sock.Implicit[DepBefore], "sockets.target") {
		t.Errorf("socket: %v", sock.Implicit)
	}
	n, _ := Load(root, "n.socket", nil)
	if n.LoadState != Loaded || len(n.Socket.Listen) != 2 || n.Socket.Listen[0].Type != "netlink" || n.Socket.Listen[1].Type != "special" {
		t.Errorf("netlink/special socket: %s %+v %v", n.LoadState, n.Socket, n.Warnings)
	}
	tm, _ := Load(root, "t.timer", nil)
	if !contains(tm.Implicit[DepTriggers], "s.service") || !contains(tm.Implicit[DepAfter], "time-sync.target") {
		t.Errorf("timer: %v", tm.Implicit)
	}
	if got := MountUnitName(`/var/lib/a-b`); got != `var-lib-a\x2db.mount` {
		t.Errorf("MountUnitName: %s", got)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func FuzzLoadUnit(f *testing.F) {
	for _, s := range []string{
		"[Unit]\nWants=a.service\n[Service]\nExecStart=/bin/echo %i \\x41\nEnvironment=A=\\ b\n[Foo]\nX=1\n",
		"[Socket]\nListenNetlink=route 1\nListenSpecial=/dev/x\n",
		"[Unit]\nRequiresMountsFor=/a /b/%i\nConditionPathExists=/x/\n[Service]\nSlice=foo.slice\nSockets=a.socket\n",
	} {
		f.Add(s)
	}
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		write(t, root, "etc/systemd/system/f@.service", s)
		write(t, root, "etc/systemd/system/f@.socket", s)
		for _, n := range []string{`f@a\x2db.service`, "f@x.socket"} {
			u, err := Load(root, n, &Options{Host: &Host{}})
			if err != nil {
				t.Fatal(err)
			}
			for k, l := range u.Implicit {
				if ReverseDep[k] == "" {
					t.Fatalf("unknown dependency kind %q", k)
				}
				for _, d := range l {
					if _, _, _, _, err := ParseName(d); err != nil {
						t.Fatalf("invalid implicit dependency %q: %v", d, err)
					}
				}
			}
			u.MountPaths()
		}
	})
}

// BenchmarkLoad loads a service with drop-ins, an alias and specifiers from a search path of
// a few hundred units, as init does for each unit of a boot (the name map built once).
func BenchmarkLoad(b *testing.B) {
	root := b.TempDir()
	for i := 0; i < 300; i++ {
		write(b, root, "usr/lib/systemd/system/u"+strings.Repeat("x", i%7)+"-"+string(rune('a'+i%26))+"-"+strconv.Itoa(i)+".service", "[Service]\nExecStart=/bin/true\n")
	}
	write(b, root, "usr/lib/systemd/system/foo-bar@.service", "[Unit]\nWants=a.service\nAfter=b.service\n[Service]\nExecStart=/bin/echo %i %I %n\nEnvironment=A=%p B=%j\nStateDirectory=foo/%i\nPrivateTmp=yes\n")
	write(b, root, "etc/systemd/system/foo-.service.d/10-x.conf", "[Service]\nEnvironment=X=1\n")
	write(b, root, "etc/systemd/system/service.d/20-y.conf", "[Service]\nEnvironment=Y=1\n")
	if err := os.Symlink("foo-bar@.service", filepath.Join(root, "usr/lib/systemd/system/alias@.service")); err != nil {
		b.Fatal(err)
	}
	opts := &Options{Names: BuildNameMap(root, DefaultDirs), Host: HostFor(root)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u, err := Load(root, `foo-bar@a\x2db.service`, opts)
		if err != nil || u.LoadState != Loaded {
			b.Fatal(err, u.LoadState)
		}
	}
}
