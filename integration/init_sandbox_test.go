//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/seccomp"
)

// initUnitOutput waits until unit printed a line "done" (through init's log, where service
// output goes prefixed with the unit's name) and returns the lines it printed before.
func initUnitOutput(t *testing.T, log *harness.SyncBuffer, unit string) []string {
	t.Helper()
	var lines []string
	harness.Eventually(t, unit+" to print done", 20*time.Second, func() bool {
		lines = nil
		sc := bufio.NewScanner(strings.NewReader(log.String()))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), unit+": "); ok {
				if rest == "done" {
					return true
				}
				lines = append(lines, rest)
			}
		}
		return false
	}, harness.Output("init log", log))
	return lines
}

// hasLine reports whether a line of lines matches all the fields given (whitespace-separated
// words in order, e.g. "Max open files 1234 5678").
func hasLine(lines []string, fields string) bool {
	want := strings.Join(strings.Fields(fields), " ")
	for _, l := range lines {
		if strings.Contains(strings.Join(strings.Fields(l), " "), want) {
			return true
		}
	}
	return false
}

// TestInitUnitsSecurityLimits: Limit*= (soft:hard, infinity, units) in the service's
// /proc/self/limits; UMask=, Nice=, OOMScoreAdjust= as the service sees them. The values stay
// within what a root without CAP_SYS_RESOURCE may set (build machines may lack it).
func TestInitUnitsSecurityLimits(t *testing.T) {
	harness.NeedRoot(t, "raising resource limits and lowering oom_score_adj")
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=limits.service\n")
	initWriteUnit(t, root, "limits.service", `[Service]
Type=oneshot
LimitNOFILE=1234:5678
LimitCPU=1min
LimitFSIZE=2M:infinity
LimitCORE=infinity
LimitNICE=0
LimitRTTIME=2s
LimitMEMLOCK=64K
UMask=0027
Nice=7
OOMScoreAdjust=123
ExecStart=/bin/sh -c 'cat /proc/self/limits; echo umask=$(umask); echo nice=$(cut -d" " -f19 /proc/self/stat); echo oom=$(cat /proc/self/oom_score_adj); echo done'
`)
	cmd, done, log := startHostInit(t, bin, root)
	lines := initUnitOutput(t, log, "limits.service")
	for _, want := range []string{
		"Max open files 1234 5678 files",
		"Max cpu time 60 60 seconds",
		"Max file size 2097152 unlimited bytes",
		"Max core file size unlimited unlimited bytes",
		"Max nice priority 0 0",
		"Max realtime timeout 2000000 2000000 us",
		"Max locked memory 65536 65536 bytes",
		"umask=0027", "nice=7", "oom=123",
	} {
		if !hasLine(lines, want) {
			t.Errorf("limits.service: no line %q in:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	initStop(t, cmd, done)
}

// TestInitUnitsSecurityNamespace: ProtectSystem=strict refuses a write to /usr but not to
// ReadWritePaths= or StateDirectory=; PrivateTmp= gives an empty private /tmp;
// InaccessiblePaths= hides a directory; TemporaryFileSystem=, BindReadOnlyPaths=,
// PrivateDevices=, PrivateNetwork=, ProtectHome=; a missing ReadWritePaths= without "-"
// fails the start with 226/NAMESPACE and says why; an unsupported setting is reported with
// file:line.
func TestInitUnitsSecurityNamespace(t *testing.T) {
	harness.NeedRoot(t, "mount namespaces")
	bin := harness.Binary(t, "cmd/init")
	// Not under /tmp, which PrivateTmp= replaces: the paths of the settings are the real ones.
	root, err := os.MkdirTemp("/run", "stead-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	for _, d := range []string{"rw", "secret", "data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	harness.WriteFile(t, filepath.Join(root, "secret/file"), "hidden\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "data/file"), "data\n", 0o644)
	// Something in the host's /tmp that a private /tmp must not show.
	marker, err := os.CreateTemp("/tmp", "stead-sandbox-marker")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	t.Cleanup(func() { os.Remove(marker.Name()) })

	initWriteUnit(t, root, "default.target", "[Unit]\nWants=strict.service devs.service bad.service\n")
	initWriteUnit(t, root, "strict.service", `[Service]
Type=oneshot
ProtectSystem=strict
PrivateTmp=yes
ProtectHome=yes
ReadWritePaths=`+root+`/rw -/does-not-exist
StateDirectory=strictstate
InaccessiblePaths=`+root+`/secret
TemporaryFileSystem=`+root+`/data:ro
BindReadOnlyPaths=`+root+`/data/file:`+root+`/rw/bound
PrivateUsers=yes
ProtectProc=invisible
ProcSubset=pid
ExecStart=/bin/sh -c 'test -e /proc/meminfo && echo meminfo visible || echo meminfo hidden; test -e /proc/self/status && echo self visible; touch /usr/stead-sandbox-test 2>&1 | sed "s|.*: |usr: |"; ls -A /tmp | wc -l | sed "s/^/tmp entries: /"; touch /tmp/x && echo tmp writable; touch `+root+`/rw/x && echo rw writable; touch $STATE_DIRECTORY/x && echo state writable; cat `+root+`/secret/file 2>&1 | sed "s|.*: |secret: |"; ls -A `+root+`/data | wc -l | sed "s/^/data entries: /"; cat `+root+`/rw/bound; echo y 2>/dev/null >> `+root+`/rw/bound || echo bound: not writable; ls /home 2>&1 | wc -l | sed "s/^/home entries: /"; echo done'
`)
	initWriteUnit(t, root, "devs.service", `[Service]
Type=oneshot
PrivateDevices=yes
PrivateNetwork=yes
ProtectHostname=yes
ProtectKernelTunables=yes
ExecStart=/bin/sh -c 'echo dev: $(ls /dev | tr "\n" " "); echo links: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " "); echo x > /proc/sys/kernel/domainname 2>&1 | sed "s/.*: /sysctl: /"; echo done'
`)
	initWriteUnit(t, root, "bad.service", "[Service]\nType=oneshot\nReadWritePaths=/not-there\nExecStart=/bin/true\n")
	cmd, done, log := startHostInit(t, bin, root)

	lines := initUnitOutput(t, log, "strict.service")
	for _, want := range []string{"usr: Read-only file system", "tmp entries: 0", "tmp writable", "rw writable",
		"state writable", "secret: No such file or directory", "data entries: 0", "data",
		"bound: not writable", "home entries: 0", "meminfo hidden", "self visible"} {
		if !slices.Contains(lines, want) {
			t.Errorf("strict.service: no line %q in:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if _, err := os.Stat("/usr/stead-sandbox-test"); err == nil {
		os.Remove("/usr/stead-sandbox-test")
		t.Error("strict.service wrote to /usr")
	}
	lines = initUnitOutput(t, log, "devs.service")
	if want := "dev: fd full hugepages mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero"; !slices.Contains(lines, want) &&
		!slices.Contains(lines, strings.Replace(want, "hugepages ", "", 1)) && !slices.Contains(lines, strings.Replace(want, "hugepages mqueue ", "", 1)) {
		t.Errorf("devs.service: /dev is not the private set:\n%s", strings.Join(lines, "\n"))
	}
	if !slices.Contains(lines, "links: lo") || !hasLine(lines, "domainname: Read-only file system") {
		t.Errorf("devs.service: want only lo and a read-only /proc/sys:\n%s", strings.Join(lines, "\n"))
	}
	u := initWaitUnit(t, root, "bad.service", log, "failed", func(u initUnit, ok bool) bool { return ok && u.Runtime.ActiveState == "failed" })
	if em := u.Runtime.Service.ExecMain; em == nil || em.Status == nil || *em.Status != 226 {
		t.Errorf("bad.service: want exit status 226 (NAMESPACE), got %+v", em)
	}
	if !strings.Contains(log.String(), "/not-there") {
		t.Errorf("init log does not say why bad.service failed:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "strict.service:11: PrivateUsers= in [Service] is not supported by stead") {
		t.Errorf("init log does not report the unsupported PrivateUsers= with file:line:\n%s", log.String())
	}
	initStop(t, cmd, done)
	if m, _ := filepath.Glob(filepath.Join(root, "tmp/systemd-private-*-strict.service")); len(m) > 0 {
		t.Errorf("PrivateTmp= directories left after the stop: %v", m)
	}
}

// TestInitUnitsSecurityPrivileges: a setuid-root binary run by User=svc gains root without
// NoNewPrivileges= and does not with it (both through the sandbox shim).
func TestInitUnitsSecurityPrivileges(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	initUsers(t, root)
	// A setuid copy of id outside /tmp, which may be mounted nosuid.
	dir, err := os.MkdirTemp("/var/tmp", "stead-suid")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	id, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Fatal(err)
	}
	suid := filepath.Join(dir, "id")
	if err := os.WriteFile(suid, id, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(suid, 0o4755); err != nil {
		t.Fatal(err)
	}
	unitText := func(nnp string) string {
		return "[Service]\nType=oneshot\nUser=svc\nProtectSystem=yes\nNoNewPrivileges=" + nnp +
			"\nExecStart=/bin/sh -c 'echo euid=$(" + suid + " -u); echo done'\n"
	}
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=suid.service nnp.service\n")
	initWriteUnit(t, root, "suid.service", unitText("no"))
	initWriteUnit(t, root, "nnp.service", unitText("yes"))
	cmd, done, log := startHostInit(t, bin, root)
	if lines := initUnitOutput(t, log, "suid.service"); !slices.Contains(lines, "euid=0") {
		t.Errorf("suid.service: the setuid binary did not run as root (test premise): %q", lines)
	}
	if lines := initUnitOutput(t, log, "nnp.service"); !slices.Contains(lines, "euid=4242") {
		t.Errorf("nnp.service: NoNewPrivileges=yes did not keep the setuid binary at uid 4242: %q", lines)
	}
	initStop(t, cmd, done)
}

// TestInitUnitsSecuritySeccomp: a call in a SystemCallFilter= deny list kills the service
// with SIGSYS (after the shell ran under the same filter); SystemCallErrorNumber= makes it
// fail instead; an allow list of @system-service with every Restrict*= runs a shell;
// RestrictAddressFamilies=AF_UNIX refuses AF_INET (bash's /dev/tcp); RestrictNamespaces=~net
// refuses a network namespace but not a UTS one (util-linux unshare).
func TestInitUnitsSecuritySeccomp(t *testing.T) {
	harness.NeedRoot(t, "running services as root")
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=killed.service errno.service allow.service inet.service unix.service ns.service\n")
	initWriteUnit(t, root, "ns.service", "[Service]\nType=oneshot\nRestrictNamespaces=~net\n"+
		"ExecStart=/bin/sh -c 'unshare -n true 2>&1 | sed \"s|.*: |unshare net: |\"; unshare -u true && echo unshare uts ok; echo done'\n")
	initWriteUnit(t, root, "killed.service", "[Service]\nType=oneshot\nSystemCallFilter=~@obsolete @debug\nSystemCallFilter=~uname\n"+
		"ExecStart=/bin/sh -c 'echo before; exec uname'\n")
	initWriteUnit(t, root, "errno.service", "[Service]\nType=oneshot\nSystemCallFilter=~uname\nSystemCallErrorNumber=EPERM\n"+
		"ExecStart=/bin/sh -c 'uname 2>&1 | sed \"s/.*: /uname: /\"; echo done'\n")
	initWriteUnit(t, root, "allow.service", "[Service]\nType=oneshot\nSystemCallFilter=@system-service\nSystemCallArchitectures=native\n"+
		"MemoryDenyWriteExecute=yes\nLockPersonality=yes\nRestrictRealtime=yes\nRestrictSUIDSGID=yes\nRestrictNamespaces=yes\n"+
		"ExecStart=/bin/sh -c 'echo allowed; echo done'\n")
	probe := "ExecStart=/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/9 || true; echo done'\n"
	initWriteUnit(t, root, "inet.service", "[Service]\nType=oneshot\nRestrictAddressFamilies=AF_UNIX\n"+probe)
	initWriteUnit(t, root, "unix.service", "[Service]\nType=oneshot\nRestrictAddressFamilies=AF_UNIX AF_INET\n"+probe)
	cmd, done, log := startHostInit(t, bin, root)

	u := initWaitUnit(t, root, "killed.service", log, "failed", func(u initUnit, ok bool) bool { return ok && u.Runtime.ActiveState == "failed" })
	em := u.Runtime.Service.ExecMain
	if em == nil || em.Code == nil || (*em.Code != 2 && *em.Code != 3) || em.Status == nil || *em.Status != 31 {
		t.Errorf("killed.service: want killed by SIGSYS (31), got %+v (result %s)", em, u.Runtime.Service.Result)
	}
	if !strings.Contains(log.String(), "killed.service: before\n") {
		t.Errorf("killed.service: the shell did not run before uname:\n%s", log.String())
	}
	if lines := initUnitOutput(t, log, "errno.service"); !slices.Contains(lines, "uname: Operation not permitted") {
		t.Errorf("errno.service: uname did not fail with EPERM: %q", lines)
	}
	if lines := initUnitOutput(t, log, "allow.service"); !slices.Contains(lines, "allowed") {
		t.Errorf("allow.service: %q", lines)
	}
	if lines := initUnitOutput(t, log, "inet.service"); !hasLine(lines, "Address family not supported by protocol") {
		t.Errorf("inet.service: AF_INET was not refused: %q", lines)
	}
	if lines := initUnitOutput(t, log, "ns.service"); !slices.Contains(lines, "unshare net: Operation not permitted") || !slices.Contains(lines, "unshare uts ok") {
		t.Errorf("ns.service: RestrictNamespaces=~net should refuse only a network namespace: %q", lines)
	}
	if lines := initUnitOutput(t, log, "unix.service"); !hasLine(lines, "Connection refused") {
		t.Errorf("unix.service: with AF_INET allowed the connection should be refused by the peer: %q", lines)
	}
	initStop(t, cmd, done)
}

// TestInitUnitsSecuritySyscallGroups compares our @groups with upstream's
// `systemd-analyze syscall-filter`, group by group.
func TestInitUnitsSecuritySyscallGroups(t *testing.T) {
	up := harness.NeedUpstream(t)
	out, errOut, code := up.Run(t, "systemd-analyze", "syscall-filter", "--no-pager")
	if code != 0 {
		t.Fatalf("systemd-analyze syscall-filter: %d %s", code, errOut)
	}
	theirs := map[string][]string{}
	var cur string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "@"):
			cur = line
			theirs[cur] = []string{}
		case strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "":
			if strings.HasPrefix(line, "#") {
				cur = ""
			}
		case strings.HasPrefix(line, "    #"):
		case cur != "":
			theirs[cur] = append(theirs[cur], strings.TrimSpace(line))
		}
	}
	if len(theirs) < 20 {
		t.Fatalf("parsed only %d groups from upstream:\n%s", len(theirs), out)
	}
	ours := seccomp.GroupNames()
	for g, members := range theirs {
		mine := seccomp.Members(g)
		slices.Sort(mine)
		slices.Sort(members)
		if !slices.Equal(mine, members) {
			t.Errorf("%s differs from upstream: ours %v, upstream %v", g, mine, members)
		}
	}
	if len(ours) != len(theirs) {
		t.Errorf("%d groups, upstream has %d", len(ours), len(theirs))
	}
}

// TestInitUnitsSecurityDynamicUser: DynamicUser= runs the service as a uid from upstream's
// range 61184–65519 (gid the same), recorded while it runs and released at the stop; its
// StateDirectory= lives in /var/lib/private with the symlink /var/lib/NAME, writable to it;
// the implied ProtectSystem=strict and NoNewPrivileges= hold.
func TestInitUnitsSecurityDynamicUser(t *testing.T) {
	harness.NeedRoot(t, "allocating users and mount namespaces")
	bin := harness.Binary(t, "cmd/init")
	root, err := os.MkdirTemp("/run", "stead-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=dyn.service\n")
	initWriteUnit(t, root, "dyn.service", `[Service]
Type=oneshot
RemainAfterExit=yes
DynamicUser=yes
StateDirectory=dyn
ExecStart=/bin/sh -c 'echo uid=$(id -u) gid=$(id -g); grep NoNewPrivs /proc/self/status; echo x > $STATE_DIRECTORY/file && echo state writable; touch /usr/stead-dyn 2>/dev/null || echo usr read-only; echo done'
`)
	cmd, done, log := startHostInit(t, bin, root)
	lines := initUnitOutput(t, log, "dyn.service")
	var uid, gid int
	for _, l := range lines {
		fmt.Sscanf(l, "uid=%d gid=%d", &uid, &gid)
	}
	if uid < 61184 || uid > 65519 || gid != uid {
		t.Errorf("dyn.service ran as uid %d gid %d, want one uid from 61184–65519 for both: %q", uid, gid, lines)
	}
	for _, want := range []string{"NoNewPrivs:\t1", "state writable", "usr read-only"} {
		if !slices.Contains(lines, want) {
			t.Errorf("dyn.service: no line %q in %q", want, lines)
		}
	}
	if target, err := os.Readlink(filepath.Join(root, "var/lib/dyn")); err != nil || target != "private/dyn" {
		t.Errorf("/var/lib/dyn: symlink to %q, %v; want private/dyn", target, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, "var/lib/private/dyn/file"), &st); err != nil || int(st.Uid) != uid {
		t.Errorf("state file: owner %d, %v; want %d", st.Uid, err, uid)
	}
	if err := syscall.Stat(filepath.Join(root, "var/lib/private"), &st); err != nil || st.Mode&0o777 != 0o700 {
		t.Errorf("/var/lib/private: mode %o, %v; want 0700", st.Mode&0o777, err)
	}
	record := filepath.Join(root, "run/systemd/dynamic-uid", strconv.Itoa(uid))
	if b, err := os.ReadFile(record); err != nil || strings.TrimSpace(string(b)) != "dyn" {
		t.Errorf("uid record %s: %q, %v; want the name dyn", record, b, err)
	}
	initStop(t, cmd, done)
	if _, err := os.Stat(record); err == nil {
		t.Errorf("uid %d still recorded after the stop", uid)
	}
}
