package pid1

// DynamicUser=: a uid (and a gid of the same number) allocated for the
// service from upstream's range while it runs, recorded in
// /run/systemd/dynamic-uid/UID (holding the user name) like upstream's
// lock files, and released when the unit stops. The user name is User=,
// else the unit name's prefix; a static user of that name is used as is,
// as upstream does. State, cache and logs directories live below a
// private/ directory (mode 0700) with a symlink in their usual place, so
// that a later owner of the same uid cannot reach them; in the service's
// mount namespace private/ is replaced by a directory holding only the
// service's own.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stead-os/stead/lib/unit"
)

// The dynamic uid range (upstream's DYNAMIC_UID_MIN/MAX).
const dynamicUIDMin, dynamicUIDMax = 61184, 65519

// dynamicUIDDir records the allocated uids.
const dynamicUIDDir = "/run/systemd/dynamic-uid"

// serviceIdentity resolves who us runs as: User=/Group= from the root's
// user database, or a dynamic user.
func (m *Manager) serviceIdentity(us *unitState) (identity, error) {
	s := us.u.Service
	if !s.Sandbox.DynamicUser {
		return resolveIdentity(m.cfg.Root, s.User, s.Group, s.SupplementaryGroups)
	}
	name, err := dynamicUserName(us.u)
	if err != nil {
		return identity{}, err
	}
	for _, e := range parsePasswd(readRootFile(m.cfg.Root, "/etc/passwd")) {
		if e.name == name {
			return resolveIdentity(m.cfg.Root, name, s.Group, s.SupplementaryGroups)
		}
	}
	uid, err := m.allocateDynamicUID(name)
	if err != nil {
		return identity{}, fmt.Errorf("DynamicUser=: %w", err)
	}
	id := identity{set: true, change: true, user: name, uid: uid, gid: uid, home: "/", shell: "/usr/sbin/nologin"}
	gr := parseGroup(readRootFile(m.cfg.Root, "/etc/group"))
	for _, g := range s.SupplementaryGroups {
		gid, err := lookupGroup(gr, g)
		if err != nil {
			return identity{}, err
		}
		id.groups = append(id.groups, gid)
	}
	return id, nil
}

// dynamicUserName is User=, else the unit name's prefix, which must be a
// valid user name (upstream then falls back to a hashed "_du…" name,
// which init does not).
func dynamicUserName(u *unit.Unit) (string, error) {
	name := u.Service.User
	if name == "" {
		name = u.Prefix
	}
	if !validUserName(name) {
		return "", fmt.Errorf("DynamicUser=: %q is not a valid user name; set User=", name)
	}
	return name, nil
}

// validUserName applies upstream's strict rules: [a-zA-Z_][a-zA-Z0-9_-]*,
// at most 31 characters.
func validUserName(s string) bool {
	if s == "" || len(s) > 31 {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// allocateDynamicUID returns the uid recorded for name, or records a free
// one: the first unused uid from a hash of the name on, skipping those in
// the root's /etc/passwd and /etc/group. The record is created with
// O_EXCL, so two allocations never share a uid.
func (m *Manager) allocateDynamicUID(name string) (uint32, error) {
	dir := m.hostPath(dynamicUIDDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	if uid, ok := recordedUID(dir, name); ok {
		return uid, nil
	}
	used := map[uint32]bool{}
	for _, e := range parsePasswd(readRootFile(m.cfg.Root, "/etc/passwd")) {
		used[e.uid] = true
	}
	for _, g := range parseGroup(readRootFile(m.cfg.Root, "/etc/group")) {
		used[g.gid] = true
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	const n = dynamicUIDMax - dynamicUIDMin + 1
	start := h.Sum32() % n
	for i := uint32(0); i < n; i++ {
		uid := dynamicUIDMin + (start+i)%n
		if used[uid] {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, strconv.FormatUint(uint64(uid), 10)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		_, err = f.WriteString(name + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return uid, err
	}
	return 0, errors.New("no free uid left in the dynamic range")
}

// recordedUID finds the uid recorded for name.
func recordedUID(dir, name string) (uint32, bool) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		uid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil || uid < dynamicUIDMin || uid > dynamicUIDMax {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && strings.TrimSpace(string(b)) == name {
			return uint32(uid), true
		}
	}
	return 0, false
}

// releaseSandbox undoes what a stopped unit held: its PrivateTmp=
// directories and its dynamic uid.
func (m *Manager) releaseSandbox(us *unitState) {
	m.removePrivateTmp(us)
	if !us.u.Service.Sandbox.DynamicUser {
		return
	}
	name, err := dynamicUserName(us.u)
	if err != nil {
		return
	}
	dir := m.hostPath(dynamicUIDDir)
	if uid, ok := recordedUID(dir, name); ok {
		_ = os.Remove(filepath.Join(dir, strconv.FormatUint(uint64(uid), 10)))
	}
}

// serviceDir is one directory a service gets: rel below base, with mode;
// private ones (DynamicUser=) are below base/private with a symlink at
// link.
type serviceDir struct {
	base, rel string
	mode      uint32
	link      string // absolute path of the symlink to a private directory, "" otherwise
}

// serviceDirs lists RuntimeDirectory=, StateDirectory=, CacheDirectory=,
// LogsDirectory= and ConfigurationDirectory= of s.
func serviceDirs(s *unit.Service) []serviceDir {
	x := &s.Sandbox
	var out []serviceDir
	for _, set := range []struct {
		base    string
		dirs    []string
		mode    uint32
		private bool
	}{
		{"/run", s.RuntimeDirectory, s.RuntimeDirectoryMode, false},
		{"/var/lib", s.StateDirectory, s.StateDirectoryMode, x.DynamicUser},
		{"/var/cache", x.CacheDirectory, x.CacheDirectoryMode, x.DynamicUser},
		{"/var/log", x.LogsDirectory, x.LogsDirectoryMode, x.DynamicUser},
		{"/etc", x.ConfigurationDirectory, x.ConfigurationDirectoryMode, false},
	} {
		for _, d := range set.dirs {
			sd := serviceDir{base: set.base, rel: d, mode: set.mode}
			if set.private {
				sd.base, sd.link = filepath.Join(set.base, "private"), filepath.Join(set.base, d)
			}
			out = append(out, sd)
		}
	}
	return out
}

// linkPrivateDir makes private/ mode 0700 and points d.link at d's
// directory below it.
func (m *Manager) linkPrivateDir(d serviceDir) error {
	if d.link == "" {
		return nil
	}
	if err := os.Chmod(m.hostPath(d.base), 0o700); err != nil {
		return err
	}
	link := m.hostPath(d.link)
	target, err := filepath.Rel(filepath.Dir(link), m.hostPath(filepath.Join(d.base, d.rel)))
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	if st, err := os.Lstat(link); err == nil && st.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s: exists and is not a symlink to %s", d.link, target)
	}
	_ = os.Remove(link)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	return os.Symlink(target, link)
}

// privateDirOps are the mount steps that give the service its private
// directories: each private/ replaced by an empty directory into which
// the service's own are bound.
func (m *Manager) privateDirOps(s *unit.Service) []mountOp {
	var ops []mountOp
	seen := map[string]bool{}
	for _, d := range serviceDirs(s) {
		if d.link == "" {
			continue
		}
		base := m.hostPath(d.base)
		if !seen[base] {
			seen[base] = true
			ops = append(ops, mountOp{Path: base, Kind: "tmpfs", Options: "mode=0755"})
		}
		p := filepath.Join(base, d.rel)
		ops = append(ops, mountOp{Path: p, Kind: "bind", Source: p, Recursive: true})
	}
	return ops
}
