package unit

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseRLimit(t *testing.T) {
	for _, tc := range []struct {
		kind, in   string
		soft, hard uint64
		bad        bool
	}{
		{"count", "1024", 1024, 1024, false},
		{"count", "1024:524288", 1024, 524288, false},
		{"count", "infinity", Infinity, Infinity, false},
		{"count", "100:infinity", 100, Infinity, false},
		{"count", "200:100", 0, 0, true},
		{"count", "1K", 0, 0, true},
		{"bytes", "64K", 65536, 65536, false},
		{"bytes", "8M:infinity", 8 << 20, Infinity, false},
		{"bytes", "1G", 1 << 30, 1 << 30, false},
		{"sec", "1min", 60, 60, false},
		{"sec", "1500ms", 2, 2, false}, // rounded up to whole seconds
		{"sec", "30", 30, 30, false},
		{"usec", "2s", 2000000, 2000000, false},
		{"usec", "500", 500, 500, false},
		{"nice", "-5", 25, 25, false},
		{"nice", "+19", 1, 1, false},
		{"nice", "0", 0, 0, false},
		{"nice", "40", 40, 40, false},
		{"nice", "41", 0, 0, true},
		{"nice", "-21", 0, 0, true},
		{"count", "", 0, 0, true},
	} {
		soft, hard, err := ParseRLimit(tc.kind, tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (soft != tc.soft || hard != tc.hard)) {
			t.Errorf("ParseRLimit(%s, %q) = %d:%d, %v; want %d:%d bad=%v", tc.kind, tc.in, soft, hard, err, tc.soft, tc.hard, tc.bad)
		}
	}
}

// parseSandboxText parses a [Service] section and returns its sandbox and warnings.
func parseSandboxText(t *testing.T, text string) (*Service, []string) {
	t.Helper()
	u := parseUnitText(t, "a.service", "[Service]\nExecStart=/bin/true\n"+text+"\n")
	var warns []string
	u.parseService(func(e error) { warns = append(warns, e.Error()) })
	for _, w := range warns {
		if !strings.Contains(w, "a.service:") {
			t.Errorf("warning %q lacks file:line", w)
		}
	}
	return u.Service, warns
}

func TestSandboxSettings(t *testing.T) {
	s, warns := parseSandboxText(t, `LimitNOFILE=1024:4096
LimitCORE=infinity
LimitBOGUS=1
UMask=0077
Nice=-3
OOMScoreAdjust=500
SecureBits=keep-caps noroot-locked
IOSchedulingClass=idle
CPUSchedulingPolicy=batch
PrivateTmp=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=/var/lib/a -/var/lib/b +/c
ReadOnlyPaths=relative
InaccessiblePaths=/secret
TemporaryFileSystem=/x:ro,mode=0700 /y
BindPaths=-/src:/dst:norbind /same
BindReadOnlyPaths=/ro
ProtectProc=invisible
ProcSubset=pid
PrivateUsers=yes`)
	x := s.Sandbox
	if len(x.Limits) != 2 || x.Limits[0].Name != "CORE" || x.Limits[0].Soft != Infinity ||
		x.Limits[1].Resource != unix.RLIMIT_NOFILE || x.Limits[1].Soft != 1024 || x.Limits[1].Hard != 4096 {
		t.Errorf("limits %+v", x.Limits)
	}
	if x.UMask != 0o077 || *x.Nice != -3 || *x.OOMScoreAdjust != 500 || *x.SecureBits != 1<<4|1<<1 ||
		x.IOSchedulingClass != 3 || *x.CPUSchedulingPolicy != unix.SCHED_BATCH {
		t.Errorf("process attributes %+v", x)
	}
	if x.PrivateTmp != "yes" || x.ProtectSystem != "strict" || x.ProtectHome != "read-only" || x.ProtectProc != "invisible" || x.ProcSubset != "pid" {
		t.Errorf("protections %+v", x)
	}
	if !slices.Equal(x.ReadWritePaths, []PathSpec{{"/var/lib/a", false}, {"/var/lib/b", true}, {"/c", false}}) {
		t.Errorf("ReadWritePaths %+v", x.ReadWritePaths)
	}
	if len(x.ReadOnlyPaths) != 0 || !slices.Equal(x.InaccessiblePaths, []PathSpec{{"/secret", false}}) {
		t.Errorf("ReadOnlyPaths %+v InaccessiblePaths %+v", x.ReadOnlyPaths, x.InaccessiblePaths)
	}
	if !slices.Equal(x.TemporaryFileSystem, []TmpfsSpec{{"/x", "ro,mode=0700"}, {"/y", ""}}) {
		t.Errorf("TemporaryFileSystem %+v", x.TemporaryFileSystem)
	}
	if !slices.Equal(x.BindPaths, []BindSpec{{"/src", "/dst", true, false}, {"/same", "/same", false, true}}) ||
		!slices.Equal(x.BindReadOnlyPaths, []BindSpec{{"/ro", "/ro", false, true}}) {
		t.Errorf("binds %+v %+v", x.BindPaths, x.BindReadOnlyPaths)
	}
	if !x.Active() || !x.NeedsNamespace() {
		t.Error("not active")
	}
	// The parser reports the relative path; LimitBOGUS (unknown) and PrivateUsers= (known
	// upstream, not applied) are left to the loader's key check (keys.go), below.
	if len(warns) != 1 || !strings.Contains(warns[0], "relative") {
		t.Errorf("warnings %q", warns)
	}
	_, errs := loadMount(t, "a.service", "[Service]\nExecStart=/bin/true\nLimitBOGUS=1\nPrivateUsers=yes\nProtectSystem=strict\n")
	var unused []string
	for _, e := range errs {
		unused = append(unused, e.Error())
	}
	if len(unused) != 2 || !strings.Contains(unused[0], "Unknown key 'LimitBOGUS'") ||
		!strings.Contains(unused[1], "PrivateUsers= in [Service] is not supported by stead") {
		t.Errorf("key check: %q", unused)
	}
}

func TestSandboxDefaultsInactive(t *testing.T) {
	s, warns := parseSandboxText(t, "User=x")
	if s.Sandbox.Active() || len(warns) != 0 {
		t.Errorf("plain service: active %v, warnings %q", s.Sandbox.Active(), warns)
	}
}

func TestSystemCallFilter(t *testing.T) {
	s, warns := parseSandboxText(t, "SystemCallFilter=@clock uname\nSystemCallFilter=~settimeofday\nSystemCallFilter=bogus_call")
	f := s.Sandbox.SystemCallFilter
	if !f.Set || !f.Allow {
		t.Fatalf("filter %+v", f)
	}
	for _, want := range []string{"uname", "clock_settime", "execve" /* @default joins */} {
		if _, ok := f.Errno[want]; !ok {
			t.Errorf("allow list lacks %s", want)
		}
	}
	if _, ok := f.Errno["settimeofday"]; ok {
		t.Error("~settimeofday did not remove it")
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "bogus_call") {
		t.Errorf("warnings %q", warns)
	}

	s, warns = parseSandboxText(t, "SystemCallFilter=~@mount uname:EACCES\nSystemCallFilter=umount2\nSystemCallErrorNumber=ENOSYS\nSystemCallArchitectures=native x86 bogus")
	f = s.Sandbox.SystemCallFilter
	if f.Allow || f.Errno["uname"] != int(unix.EACCES) || f.Errno["mount"] != 0 {
		t.Errorf("deny list %+v", f)
	}
	if _, ok := f.Errno["umount2"]; ok {
		t.Error("a plain line after a deny list did not remove umount2")
	}
	if s.Sandbox.SystemCallErrorNumber != int(unix.ENOSYS) || !slices.Equal(s.Sandbox.SystemCallArchitectures, []string{"native", "x86"}) {
		t.Errorf("errno %d arches %v", s.Sandbox.SystemCallErrorNumber, s.Sandbox.SystemCallArchitectures)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "bogus") {
		t.Errorf("warnings %q", warns)
	}
	s, warns = parseSandboxText(t, "SystemCallFilter=uname:EPERM")
	if len(warns) != 1 {
		t.Errorf("errno in an allow list: warnings %q", warns)
	}
	s, _ = parseSandboxText(t, "SystemCallFilter=uname\nSystemCallFilter=")
	if s.Sandbox.SystemCallFilter.Set {
		t.Error("empty assignment did not reset")
	}
}

func TestRestrictSettings(t *testing.T) {
	s, warns := parseSandboxText(t, "RestrictAddressFamilies=AF_UNIX AF_INET\nRestrictAddressFamilies=~AF_INET\nRestrictAddressFamilies=AF_BOGUS\n"+
		"RestrictNamespaces=~user net\nRestrictNamespaces=~mnt\nMemoryDenyWriteExecute=yes\nLockPersonality=yes\nRestrictRealtime=yes\nRestrictSUIDSGID=yes")
	x := s.Sandbox
	if !x.RestrictAddressFamilies.Allow || !slices.Equal(x.RestrictAddressFamilies.Families, []int{unix.AF_UNIX}) {
		t.Errorf("families %+v", x.RestrictAddressFamilies)
	}
	if x.RestrictNamespaces == nil || *x.RestrictNamespaces&(unix.CLONE_NEWUSER|unix.CLONE_NEWNET|unix.CLONE_NEWNS) != 0 ||
		*x.RestrictNamespaces&unix.CLONE_NEWUTS == 0 {
		t.Errorf("namespaces %#x", x.RestrictNamespaces)
	}
	if !x.MemoryDenyWriteExecute || !x.LockPersonality || !x.RestrictRealtime || !x.RestrictSUIDSGID || !x.UsesSeccomp() {
		t.Errorf("booleans %+v", x)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "AF_BOGUS") {
		t.Errorf("warnings %q", warns)
	}
	s, _ = parseSandboxText(t, "RestrictAddressFamilies=none\nRestrictNamespaces=yes")
	if f := s.Sandbox.RestrictAddressFamilies; !f.Set || !f.Allow || len(f.Families) != 0 || *s.Sandbox.RestrictNamespaces != 0 {
		t.Errorf("none/yes: %+v %#x", f, *s.Sandbox.RestrictNamespaces)
	}
	s, _ = parseSandboxText(t, "RestrictAddressFamilies=~AF_PACKET")
	if f := s.Sandbox.RestrictAddressFamilies; f.Allow || !slices.Equal(f.Families, []int{unix.AF_PACKET}) {
		t.Errorf("deny list %+v", f)
	}
}

func TestStrongerWordsApplyAsYes(t *testing.T) {
	s, warns := parseSandboxText(t, "ProtectControlGroups=strict\nProtectHostname=yes:box")
	if !s.Sandbox.ProtectControlGroups || !s.Sandbox.ProtectHostname || len(warns) != 2 {
		t.Errorf("cgroups %v hostname %v warnings %q", s.Sandbox.ProtectControlGroups, s.Sandbox.ProtectHostname, warns)
	}
	s, warns = parseSandboxText(t, "ProtectControlGroups=no\nProtectHostname=maybe")
	if s.Sandbox.ProtectControlGroups || s.Sandbox.ProtectHostname || len(warns) != 1 {
		t.Errorf("cgroups %v hostname %v warnings %q", s.Sandbox.ProtectControlGroups, s.Sandbox.ProtectHostname, warns)
	}
}

func TestDynamicUserImplies(t *testing.T) {
	s, _ := parseSandboxText(t, "DynamicUser=yes\nProtectSystem=full")
	x := s.Sandbox
	if !x.DynamicUser || x.ProtectSystem != "strict" || x.ProtectHome != "read-only" || x.PrivateTmp != "yes" ||
		!x.RestrictSUIDSGID || !s.NoNewPrivileges {
		t.Errorf("DynamicUser=yes implies: %+v nnp %v", x, s.NoNewPrivileges)
	}
	s, _ = parseSandboxText(t, "DynamicUser=yes\nProtectHome=tmpfs\nPrivateTmp=disconnected")
	if s.Sandbox.ProtectHome != "tmpfs" || s.Sandbox.PrivateTmp != "disconnected" {
		t.Errorf("explicit settings overridden: %+v", s.Sandbox)
	}
}

func TestErrnoNumber(t *testing.T) {
	for in, want := range map[string]int{"EPERM": 1, "eacces": 13, "38": 38} {
		if n, err := ErrnoNumber(in); err != nil || n != want {
			t.Errorf("ErrnoNumber(%q) = %d, %v", in, n, err)
		}
	}
	for _, bad := range []string{"ENOPE", "0", "5000", ""} {
		if _, err := ErrnoNumber(bad); err == nil {
			t.Errorf("ErrnoNumber(%q) accepted", bad)
		}
	}
}

func FuzzSandbox(f *testing.F) {
	for _, s := range []string{"LimitNOFILE=1:2\nSystemCallFilter=~@mount:EPERM", "RestrictNamespaces=~net\nBindPaths=-/a:/b:rbind",
		"RestrictAddressFamilies=none\nRestrictAddressFamilies=AF_UNIX", "TemporaryFileSystem=/x:ro\nLimitNICE=-20"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		u := parseUnitText(t, "a.service", "[Service]\nExecStart=/bin/true\n"+text+"\n")
		u.parseService(func(error) {})
		x := u.Service.Sandbox
		for _, l := range x.Limits {
			if l.Soft > l.Hard {
				t.Fatalf("soft above hard: %+v", l)
			}
		}
		for _, p := range append(append(x.ReadWritePaths, x.ReadOnlyPaths...), x.InaccessiblePaths...) {
			if !strings.HasPrefix(p.Path, "/") {
				t.Fatalf("relative path %q", p.Path)
			}
		}
	})
}

// Every key of SandboxKeys is read: a unit setting each one to a bad value gets a warning
// for it.
func TestSandboxKeysAreRead(t *testing.T) {
	var text strings.Builder
	for _, k := range SandboxKeys() {
		v := "\x01bad"
		if strings.HasSuffix(k, "Directory") {
			v = "../bad" // any other word is a fine directory name
		}
		text.WriteString(k + "=" + v + "\n")
	}
	_, warns := parseSandboxText(t, text.String())
	joined := strings.Join(warns, "\n")
	missing := 0
	for _, k := range SandboxKeys() {
		if !strings.Contains(joined, ": "+k+": ") {
			missing++
			t.Logf("no warning for %s", k)
		}
	}
	if missing > 0 {
		t.Errorf("%d settings of SandboxKeys are not read", missing)
	}
	if slices.ContainsFunc(UnsupportedExecKeys(), func(k string) bool { return slices.Contains(SandboxKeys(), k) }) {
		t.Error("a setting is both read and reported as unsupported")
	}
}
