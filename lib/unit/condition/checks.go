package condition

// The individual checks. Paths in values are in-root; the kernel's own
// view (/proc/self, uname, affinity, credentials of this process) is the
// manager's, as upstream's.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/kcmdline"
	"github.com/stead-os/stead/lib/tpm"
	"github.com/stead-os/stead/lib/unit"
)

var errBadValue = errors.New("invalid condition value")

// archNames maps uname machines to upstream's architecture names.
var archNames = map[string]string{
	"x86_64": "x86-64", "i386": "x86", "i486": "x86", "i586": "x86", "i686": "x86", "aarch64": "arm64",
	"aarch64_be": "arm64-be", "armv7l": "arm", "armv8l": "arm", "ppc64le": "ppc64-le", "ppc64": "ppc64",
	"ppc": "ppc", "s390x": "s390x", "s390": "s390", "riscv64": "riscv64", "riscv32": "riscv32",
	"loongarch64": "loongarch64", "mips64": "mips64", "mips": "mips", "sparc64": "sparc64", "alpha": "alpha",
	"parisc": "parisc", "ia64": "ia64", "m68k": "m68k", "sh": "sh", "arc": "arc",
}

// goArch is the architecture this binary is built for ("native").
var goArch = map[string]string{
	"amd64": "x86-64", "386": "x86", "arm64": "arm64", "arm": "arm", "ppc64le": "ppc64-le", "ppc64": "ppc64",
	"s390x": "s390x", "riscv64": "riscv64", "loong64": "loongarch64", "mips64": "mips64", "mips": "mips",
}[runtime.GOARCH]

func uname() (machine, release string) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "", ""
	}
	return unix.ByteSliceToString(u.Machine[:]), unix.ByteSliceToString(u.Release[:])
}

func testArchitecture(e *Env, v string) (bool, error) {
	want := v
	if v == "native" {
		want = goArch
	}
	known := false
	for _, a := range archNames {
		known = known || a == want
	}
	if !known {
		return false, errBadValue
	}
	m, _ := uname()
	return archNames[m] == want, nil
}

func testFirmware(e *Env, v string) (bool, error) {
	exists := func(p string) bool { _, err := os.Stat(e.path(p)); return err == nil }
	switch {
	case v == "uefi":
		return exists("/sys/firmware/efi"), nil
	case v == "device-tree":
		return exists("/sys/firmware/devicetree"), nil
	case strings.HasPrefix(v, "device-tree-compatible(") && strings.HasSuffix(v, ")"):
		want := strings.TrimSuffix(strings.TrimPrefix(v, "device-tree-compatible("), ")")
		b, err := os.ReadFile(e.path("/proc/device-tree/compatible"))
		if err != nil {
			return false, nil
		}
		for _, c := range bytes.Split(b, []byte{0}) {
			if string(c) == want {
				return true, nil
			}
		}
		return false, nil
	case strings.HasPrefix(v, "smbios-field(") && strings.HasSuffix(v, ")"):
		expr := strings.TrimSuffix(strings.TrimPrefix(v, "smbios-field("), ")")
		field, op, want, ok := splitOp(expr)
		if !ok || field == "" || strings.ContainsAny(field, "/.") {
			return false, errBadValue
		}
		b, err := os.ReadFile(e.path("/sys/class/dmi/id/" + field))
		if err != nil {
			return false, nil
		}
		return compare(strings.TrimSpace(string(b)), op, want), nil
	}
	return false, nil
}

func testVirtualization(e *Env, v string) (bool, error) {
	return VirtualizationMatches(DetectVirtualization(e.root(), e.PID1), v), nil
}

// readID reads a 128-bit ID file under the root, "" if absent.
func (e *Env) readID(p string) string {
	b, err := os.ReadFile(e.path(p))
	if err != nil {
		return ""
	}
	return normalizeID(strings.TrimSpace(string(b)))
}

// normalizeID turns a 32-hex-digit ID or a UUID into 32 lowercase digits,
// "" if it is neither.
func normalizeID(s string) string {
	s = strings.ToLower(s)
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		s = strings.ReplaceAll(s, "-", "")
	}
	if len(s) != 32 {
		return ""
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
	}
	return s
}

func testHost(e *Env, v string) (bool, error) {
	if id := normalizeID(v); id != "" {
		for _, p := range []string{"/etc/machine-id", "/proc/sys/kernel/random/boot_id", "/sys/class/dmi/id/product_uuid"} {
			if e.readID(p) == id {
				return true, nil
			}
		}
		return false, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return false, err
	}
	ok, _ := filepath.Match(strings.ToLower(v), strings.ToLower(h))
	return ok, nil
}

// testFraction handles the two ends of ConditionFraction=. Between them
// upstream derives a machine's position from its machine ID in a way
// stead does not reproduce; such values are refused (the condition
// fails) rather than guessed. See docs/init.md.
func testFraction(e *Env, v string) (bool, error) {
	f := strings.Fields(v)
	if len(f) == 0 || len(f) > 2 {
		return false, errBadValue
	}
	pct, ok := strings.CutSuffix(f[len(f)-1], "%")
	if !ok {
		return false, errBadValue
	}
	x, err := strconv.ParseFloat(pct, 64)
	if err != nil || x < 0 || x > 100 {
		return false, errBadValue
	}
	if e.readID("/etc/machine-id") == "" {
		return false, nil
	}
	switch x {
	case 0:
		return false, nil
	case 100:
		return true, nil
	}
	return false, errors.New("fractions between 0% and 100% are not supported")
}

func testKernelCommandLine(e *Env, v string) (bool, error) {
	params, err := kcmdline.Load(e.root())
	if err != nil {
		return false, err
	}
	k, val, hasVal := strings.Cut(v, "=")
	for _, p := range params {
		if !kcmdline.KeyEqual(p.Key, k) {
			continue
		}
		if !hasVal || (p.HasValue && p.Value == val) {
			return true, nil
		}
	}
	return false, nil
}

func testKernelVersion(e *Env, v string) (bool, error) {
	_, rel := uname()
	return versionExprs(rel, v)
}

// versionExprs checks every (possibly quoted) expression of a list
// against have; a bare value is a glob.
func versionExprs(have, list string) (bool, error) {
	words := splitQuoted(list)
	if len(words) == 0 {
		return false, errBadValue
	}
	for i := 0; i < len(words); i++ {
		op, rest := parseOp(words[i])
		if op == "" {
			op = "$="
		}
		if rest == "" && i+1 < len(words) { // "> 5": the operator stands alone
			i++
			rest = words[i]
		}
		if rest == "" {
			return false, errBadValue
		}
		if !compare(have, op, rest) {
			return false, nil
		}
	}
	return true, nil
}

func testVersion(e *Env, v string) (bool, error) {
	what, rest := "kernel", v
	if f := strings.Fields(v); len(f) > 0 && (f[0] == "kernel" || f[0] == "systemd" || f[0] == "glibc") {
		what, rest = f[0], strings.TrimSpace(strings.TrimPrefix(v, f[0]))
	}
	var have string
	switch what {
	case "kernel":
		_, have = uname()
	case "systemd":
		have = SystemdVersion
	case "glibc":
		have = e.glibcVersion()
		if have == "" {
			return false, errors.New("no glibc found")
		}
	}
	return versionExprs(have, rest)
}

// glibcVersion reads the version glibc's libc.so.6 under the root states
// ("release version 2.41"): stead's static binaries carry no libc.
func (e *Env) glibcVersion() string {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/aarch64-linux-gnu/libc.so.6",
		"/usr/lib64/libc.so.6", "/lib64/libc.so.6", "/usr/lib/libc.so.6"} {
		b, err := os.ReadFile(e.path(p))
		if err != nil {
			continue
		}
		const marker = "release version "
		if i := bytes.Index(b, []byte(marker)); i >= 0 {
			rest := b[i+len(marker):]
			end := bytes.IndexAny(rest, ".\n\x00")
			for end >= 0 && end+1 < len(rest) && rest[end] == '.' && rest[end+1] >= '0' && rest[end+1] <= '9' {
				next := bytes.IndexAny(rest[end+1:], ".\n\x00")
				if next < 0 {
					break
				}
				end += 1 + next
			}
			if end > 0 {
				return string(rest[:end])
			}
		}
	}
	return ""
}

func validCredentialName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00") && len(s) <= 255
}

func testCredential(e *Env, v string) (bool, error) {
	if !validCredentialName(v) {
		return false, errBadValue
	}
	for _, d := range e.CredentialsDirs {
		if _, err := os.Stat(filepath.Join(d, v)); err == nil {
			return true, nil
		}
	}
	return false, nil
}

func testEnvironment(e *Env, v string) (bool, error) {
	_, _, hasVal := strings.Cut(v, "=")
	for _, kv := range e.environ() {
		if hasVal && kv == v || !hasVal && strings.HasPrefix(kv, v+"=") {
			return true, nil
		}
	}
	return false, nil
}

// EFI variables ConditionSecurity= looks at.
const (
	EFISecureBoot       = "SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0333b5f1"
	EFIStubPcrKernImage = "StubPcrKernelImage-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
)

func testSecurity(e *Env, v string) (bool, error) { return e.Security(v), nil }

// Security checks ConditionSecurity=. See docs/init.md for what each
// technology is taken to mean here.
func (e *Env) Security(tech string) bool {
	exists := func(p string) bool { _, err := os.Stat(e.path(p)); return err == nil }
	switch tech {
	case "selinux":
		return exists("/sys/fs/selinux/enforce")
	case "apparmor":
		b, err := os.ReadFile(e.path("/sys/module/apparmor/parameters/enabled"))
		return err == nil && strings.HasPrefix(string(b), "Y")
	case "tomoyo":
		return exists("/sys/kernel/security/tomoyo/version")
	case "smack":
		return exists("/sys/fs/smackfs")
	case "ima":
		return exists("/sys/kernel/security/ima")
	case "audit":
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
		if err != nil {
			return false
		}
		unix.Close(fd)
		return true
	case "uefi-secureboot":
		b, err := os.ReadFile(e.path("/sys/firmware/efi/efivars/" + EFISecureBoot))
		return err == nil && len(b) == 5 && b[4] == 1 // 4 bytes of attributes, then the value
	case "tpm2":
		return tpm.KernelHasTPM(e.root())
	case "cvm":
		return ConfidentialVirtualization(e.root()) != "none"
	case "measured-uki":
		return e.measuredUKI()
	case "measured-os":
		ok, _ := tpm.MeasuredOS(e.root())
		return ok
	}
	return false
}

// measuredUKI is upstream's "measured-uki": $SYSTEMD_FORCE_MEASURE if set,
// else a TPM 2.0 and systemd-stub's StubPcrKernelImage EFI variable.
func (e *Env) measuredUKI() bool {
	if v, ok := os.LookupEnv("SYSTEMD_FORCE_MEASURE"); ok {
		b, err := conf.ParseBool(v)
		return err == nil && b
	}
	_, err := os.Stat(e.path("/sys/firmware/efi/efivars/" + EFIStubPcrKernImage))
	return err == nil && tpm.KernelHasTPM(e.root())
}

// testCapability looks at the manager's bounding set.
func testCapability(e *Env, v string) (bool, error) {
	n, err := unit.CapabilityNumber(v)
	if err != nil {
		return false, errBadValue
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			set, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return false, err
			}
			return n < 64 && set&(1<<uint(n)) != 0, nil
		}
	}
	return false, errors.New("no CapBnd in /proc/self/status")
}

// onACPower is upstream's on_ac_power: true if a mains supply is online
// or none is known.
func (e *Env) onACPower() bool {
	dir := e.path("/sys/class/power_supply")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return true
	}
	foundOffline, foundOnline := false, false
	for _, d := range ents {
		read := func(f string) string {
			b, _ := os.ReadFile(filepath.Join(dir, d.Name(), f))
			return strings.TrimSpace(string(b))
		}
		if read("type") != "Mains" {
			continue
		}
		if read("scope") == "Device" {
			continue
		}
		switch read("online") {
		case "1":
			foundOnline = true
		case "0":
			foundOffline = true
		}
	}
	return foundOnline || !foundOffline
}

func testACPower(e *Env, v string) (bool, error) {
	b, err := conf.ParseBool(v)
	if err != nil {
		return false, errBadValue
	}
	return e.onACPower() == b, nil
}

func testNeedsUpdate(e *Env, v string) (bool, error) {
	if !path.IsAbs(v) {
		return false, errBadValue
	}
	params, _ := kcmdline.Load(e.root())
	if b, found, err := kcmdline.LookupBool(params, "systemd.condition_needs_update"); found && err == nil {
		return b, nil
	}
	if kcmdline.InInitrd(e.root()) {
		return false, nil
	}
	usr, err := os.Stat(e.path("/usr"))
	if err != nil {
		return false, nil
	}
	stamp, err := os.Stat(e.path(path.Join(v, ".updated")))
	if err != nil {
		return true, nil
	}
	return usr.ModTime().After(stamp.ModTime()), nil
}

func testFirstBoot(e *Env, v string) (bool, error) {
	want, err := conf.ParseBool(v)
	if err != nil {
		return false, errBadValue
	}
	params, _ := kcmdline.Load(e.root())
	if b, found, err := kcmdline.LookupBool(params, "systemd.condition_first_boot"); found && err == nil {
		return b == want, nil
	}
	_, err = os.Stat(e.path("/run/systemd/first-boot"))
	return (err == nil) == want, nil
}

func needAbs(v string) error {
	if !path.IsAbs(v) {
		return errBadValue
	}
	return nil
}

func (e *Env) stat(v string) (os.FileInfo, error) {
	if err := needAbs(v); err != nil {
		return nil, err
	}
	return os.Stat(e.path(v))
}

func testPathExists(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	_, err := e.stat(v)
	return err == nil, nil
}

func testPathExistsGlob(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	ms, _ := filepath.Glob(e.path(v))
	return len(ms) > 0, nil
}

func testPathIsDirectory(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	st, err := e.stat(v)
	return err == nil && st.IsDir(), nil
}

func testPathIsSymbolicLink(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	st, err := os.Lstat(e.path(v))
	return err == nil && st.Mode()&os.ModeSymlink != 0, nil
}

func testPathIsSocket(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	st, err := e.stat(v)
	return err == nil && st.Mode()&os.ModeSocket != 0, nil
}

// testPathIsMountPoint asks statx whether the path is the root of a mount.
func testPathIsMountPoint(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, e.path(v), 0, unix.STATX_BASIC_STATS, &st); err != nil {
		return false, nil
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	var parent unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, e.path(v)+"/..", 0, unix.STATX_BASIC_STATS, &parent); err != nil {
		return false, nil
	}
	return st.Dev_major != parent.Dev_major || st.Dev_minor != parent.Dev_minor, nil
}

// testPathIsReadWrite is upstream's: a missing path fails, a file system
// not mounted read-only passes (and so does one that cannot be asked).
func testPathIsReadWrite(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(e.path(v), &st); err != nil {
		return !errors.Is(err, unix.ENOENT), nil
	}
	return st.Flags&unix.ST_RDONLY == 0, nil
}

// testPathIsEncrypted follows the block device under the path's file
// system through device-mapper slaves to a dm-crypt ("CRYPT-") device.
func testPathIsEncrypted(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	var st unix.Stat_t
	if err := unix.Stat(e.path(v), &st); err != nil {
		return false, nil
	}
	if unix.Major(st.Dev) == 0 {
		return false, nil // no block device (tmpfs, btrfs subvolume …)
	}
	return e.blockEncrypted(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)), 0), nil
}

func (e *Env) blockEncrypted(sys string, depth int) bool {
	if depth > 16 {
		return false
	}
	if b, err := os.ReadFile(e.path(sys + "/dm/uuid")); err == nil && strings.HasPrefix(string(b), "CRYPT-") {
		return true
	}
	ents, err := os.ReadDir(e.path(sys + "/slaves"))
	if err != nil {
		return false
	}
	for _, s := range ents {
		if e.blockEncrypted(sys+"/slaves/"+s.Name(), depth+1) {
			return true
		}
	}
	return false
}

// hiddenOrBackup are the names upstream's dir_is_empty skips.
func hiddenOrBackup(n string) bool {
	if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") {
		return true
	}
	for _, s := range []string{".rpmnew", ".rpmsave", ".rpmorig", ".dpkg-old", ".dpkg-new", ".dpkg-tmp", ".dpkg-dist",
		".dpkg-bak", ".dpkg-backup", ".dpkg-remove", ".ucf-new", ".ucf-old", ".ucf-dist", ".swp", ".bak", ".old", ".new"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

func testDirectoryNotEmpty(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	ents, err := os.ReadDir(e.path(v))
	if err != nil {
		return false, nil
	}
	for _, d := range ents {
		if !hiddenOrBackup(d.Name()) {
			return true, nil
		}
	}
	return false, nil
}

func testFileNotEmpty(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	st, err := e.stat(v)
	return err == nil && st.Mode().IsRegular() && st.Size() > 0, nil
}

func testFileIsExecutable(e *Env, v string) (bool, error) {
	if err := needAbs(v); err != nil {
		return false, err
	}
	st, err := e.stat(v)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0, nil
}

// lookupID finds name in the root's passwd or group file (field 3).
func (e *Env) lookupID(file, name string) (int, bool) {
	b, err := os.ReadFile(e.path(file))
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 3 && f[0] == name {
			n, err := strconv.Atoi(f[2])
			return n, err == nil
		}
	}
	return 0, false
}

// systemUIDMax is the end of the system user range.
const systemUIDMax = 999

func testUser(e *Env, v string) (bool, error) {
	uid, euid := os.Getuid(), os.Geteuid()
	if n, err := strconv.Atoi(v); err == nil {
		return n == uid || n == euid, nil
	}
	if v == "@system" {
		return uid <= systemUIDMax && euid <= systemUIDMax, nil
	}
	if e.PID1 {
		return v == "root", nil
	}
	id, ok := e.lookupID("/etc/passwd", v)
	if !ok && v == "root" {
		id, ok = 0, true
	}
	return ok && (id == uid || id == euid), nil
}

func inGroup(gid int) bool {
	if gid == os.Getgid() || gid == os.Getegid() {
		return true
	}
	gs, _ := os.Getgroups()
	for _, g := range gs {
		if g == gid {
			return true
		}
	}
	return false
}

func testGroup(e *Env, v string) (bool, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return inGroup(n), nil
	}
	id, ok := e.lookupID("/etc/group", v)
	if !ok && v == "root" {
		id, ok = 0, true
	}
	return ok && inGroup(id), nil
}

// knownControllers are the cgroup controllers upstream knows by name.
var knownControllers = map[string]bool{"cpu": true, "cpuacct": true, "cpuset": true, "io": true, "blkio": true,
	"memory": true, "devices": true, "pids": true, "bpf-firewall": true, "bpf-devices": true, "bpf-foreign": true,
	"bpf-socket-bind": true, "bpf-restrict-network-interfaces": true}

// cgroupV1Names are v1 controller names and the v2 ones they stand for.
var cgroupV1Names = map[string]string{"cpuacct": "cpu", "blkio": "io"}

// testControlGroupController: cgroup v1 is gone from systemd 262, so
// "v2" always holds and "v1" never; controllers must be listed as
// available in the manager's cgroup (or the root cgroup).
func testControlGroupController(e *Env, v string) (bool, error) {
	switch v {
	case "v2":
		return true, nil
	case "v1":
		return false, nil
	}
	b, err := os.ReadFile(e.path(path.Join("/sys/fs/cgroup", e.ownCgroup(), "cgroup.controllers")))
	if err != nil {
		if b, err = os.ReadFile(e.path("/sys/fs/cgroup/cgroup.controllers")); err != nil {
			return false, err
		}
	}
	avail := map[string]bool{}
	for _, c := range strings.Fields(string(b)) {
		avail[c] = true
	}
	// BPF-based controllers exist wherever cgroup v2 does.
	for _, c := range []string{"bpf-firewall", "bpf-devices", "bpf-foreign", "bpf-socket-bind", "bpf-restrict-network-interfaces"} {
		avail[c] = true
	}
	for _, c := range strings.Fields(v) {
		if !knownControllers[c] {
			continue // unknown to upstream too: ignored
		}
		if n, ok := cgroupV1Names[c]; ok {
			c = n
		}
		if !avail[c] {
			return false, nil
		}
	}
	return true, nil
}

// ownCgroup is the manager's cgroup: this process's, with a trailing
// /init.scope (PID 1's own scope) dropped as upstream's root cgroup.
func (e *Env) ownCgroup() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "/"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return strings.TrimSuffix(p, "/init.scope")
		}
	}
	return "/"
}

// compareOps are the comparison operators of ConditionMemory= and
// ConditionCPUs=, longest first.
var sizeOps = []string{"<=", ">=", "==", "!=", "<>", "<", ">", "="}

func splitSizeOp(v string) (op, rest string) {
	v = strings.TrimSpace(v)
	for _, o := range sizeOps {
		if r, ok := strings.CutPrefix(v, o); ok {
			return o, strings.TrimSpace(r)
		}
	}
	return ">=", v
}

func compareInt(have uint64, op string, want uint64) bool {
	switch op {
	case "<":
		return have < want
	case "<=":
		return have <= want
	case "=", "==":
		return have == want
	case "!=", "<>":
		return have != want
	case ">":
		return have > want
	}
	return have >= want
}

// parseSize reads a byte size with upstream's binary suffixes (K, M, G,
// T, P, E; B for bytes).
func parseSize(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	mult := uint64(1)
	for i, suf := range []string{"B", "K", "M", "G", "T", "P", "E"} {
		if r, ok := strings.CutSuffix(s, suf); ok {
			s = strings.TrimSpace(r)
			if i > 0 {
				mult = 1 << (10 * i)
			}
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, errBadValue
	}
	return uint64(f * float64(mult)), nil
}

func testMemory(e *Env, v string) (bool, error) {
	op, rest := splitSizeOp(v)
	want, err := parseSize(rest)
	if err != nil {
		return false, err
	}
	b, err := os.ReadFile(e.path("/proc/meminfo"))
	if err != nil {
		return false, err
	}
	var have uint64
	for _, l := range strings.Split(string(b), "\n") {
		if r, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(r), "kB")), 10, 64)
			have = kb * 1024
		}
	}
	// In a container the cgroup limit is the memory there is.
	if lim, err := os.ReadFile(e.path("/sys/fs/cgroup/memory.max")); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(lim)), 10, 64); err == nil && n < have {
			have = n
		}
	}
	return compareInt(have, op, want), nil
}

func testCPUs(e *Env, v string) (bool, error) {
	op, rest := splitSizeOp(v)
	want, err := strconv.ParseUint(rest, 10, 32)
	if err != nil {
		return false, errBadValue
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return false, err
	}
	return compareInt(uint64(set.Count()), op, want), nil
}

// cpuinfoFlag maps upstream's CPUFeature names to /proc/cpuinfo flags
// where they differ.
var cpuinfoFlag = map[string]string{"pclmul": "pclmulqdq", "fma3": "fma", "bmi1": "bmi1", "sse4_1": "sse4_1"}

// testCPUFeature reads /proc/cpuinfo (upstream asks CPUID directly; the
// kernel reports the same leaves, except features it hides, such as
// osxsave, which is read from the xsave flag here).
func testCPUFeature(e *Env, v string) (bool, error) {
	if arch, feat, ok := strings.Cut(v, "."); ok {
		if arch != goArch {
			return false, nil
		}
		v = feat
	}
	f := CPUFlags(e.root())
	if n, ok := cpuinfoFlag[v]; ok {
		return f[n], nil
	}
	if v == "osxsave" {
		return f["xsave"], nil
	}
	if b, err := os.ReadFile(e.path("/proc/cpuinfo")); err == nil && runtime.GOARCH == "arm64" {
		for _, l := range strings.Split(string(b), "\n") {
			if k, val, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Features" {
				for _, x := range strings.Fields(val) {
					if x == v {
						return true, nil
					}
				}
				return false, nil
			}
		}
	}
	return f[v], nil
}

// osRelease reads os-release under the root.
func (e *Env) osRelease() map[string]string {
	out := map[string]string{}
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		b, err := os.ReadFile(e.path(p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
			if !ok || strings.HasPrefix(k, "#") {
				continue
			}
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
			}
			out[k] = v
		}
		return out
	}
	return out
}

func testOSRelease(e *Env, v string) (bool, error) {
	words := splitQuoted(v)
	if len(words) == 0 {
		return false, errBadValue
	}
	rel := e.osRelease()
	for _, w := range words {
		key, op, want, ok := splitOp(w)
		if !ok || key == "" || want == "" {
			return false, errBadValue
		}
		if !compare(rel[key], op, want) {
			return false, nil
		}
	}
	return true, nil
}

func testMachineTag(e *Env, v string) (bool, error) {
	b, err := os.ReadFile(e.path("/etc/machine-info"))
	if err != nil {
		return false, nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		val, ok := strings.CutPrefix(strings.TrimSpace(l), "TAGS=")
		if !ok {
			continue
		}
		val = strings.Trim(val, `"'`)
		for _, t := range strings.Fields(val) {
			if m, _ := filepath.Match(v, t); m {
				return true, nil
			}
		}
	}
	return false, nil
}

// pressureTest checks /proc/pressure/KIND: the "some" average over the
// window (10sec, 1min, 5min; 5min by default) must not exceed the limit.
// Without PSI the condition holds, as upstream's.
func pressureTest(kind string) func(*Env, string) (bool, error) {
	return func(e *Env, v string) (bool, error) {
		lim, window, _ := strings.Cut(v, "/")
		pct, ok := strings.CutSuffix(strings.TrimSpace(lim), "%")
		if !ok {
			return false, errBadValue
		}
		limit, err := strconv.ParseFloat(pct, 64)
		if err != nil || limit < 0 || limit > 100 {
			return false, errBadValue
		}
		field := "avg300"
		switch strings.TrimSpace(window) {
		case "":
		case "10s", "10sec":
			field = "avg10"
		case "1min", "60s", "60sec":
			field = "avg60"
		case "5min", "300s", "300sec":
			field = "avg300"
		default:
			return false, errBadValue
		}
		b, err := os.ReadFile(e.path("/proc/pressure/" + kind))
		if err != nil {
			return true, nil
		}
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "some ") {
				continue
			}
			for _, f := range strings.Fields(l)[1:] {
				if val, ok := strings.CutPrefix(f, field+"="); ok {
					have, err := strconv.ParseFloat(val, 64)
					if err != nil {
						return false, err
					}
					return have <= limit, nil
				}
			}
		}
		return true, nil
	}
}

func testKernelModuleLoaded(e *Env, v string) (bool, error) {
	if v == "" || strings.ContainsAny(v, "/.") {
		return false, errBadValue
	}
	name := strings.ReplaceAll(v, "-", "_")
	b, err := os.ReadFile(e.path("/sys/module/" + name + "/initstate"))
	if err == nil {
		return strings.TrimSpace(string(b)) == "live", nil
	}
	// Built-in modules have no initstate; the directory is there.
	st, err := os.Stat(e.path("/sys/module/" + name))
	return err == nil && st.IsDir(), nil
}
