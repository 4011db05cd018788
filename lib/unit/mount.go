package unit

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Mount is the typed [Mount] section of a .mount unit (systemd.mount(5)).
type Mount struct {
	What          string // the device, file or remote source; "" is refused
	Where         string // the mount point: the unit's name, unescaped
	Type          string // file system type, "" lets mount(8) probe
	Options       string // comma-separated mount options
	SloppyOptions bool   // mount -s
	LazyUnmount   bool   // umount -l
	ReadWriteOnly bool   // no read-only fallback (mount -w)
	ForceUnmount  bool   // umount -f
	DirectoryMode uint32 // for mount points (and parents) that are created
	Timeout       time.Duration
}

// networkFSTypes are the file systems upstream treats as remote: their
// mounts order after the network and before remote-fs.target.
var networkFSTypes = map[string]bool{
	"afs": true, "ceph": true, "cifs": true, "smb3": true, "smbfs": true, "sshfs": true,
	"ncpfs": true, "ncp": true, "nfs": true, "nfs4": true, "gfs": true, "gfs2": true,
	"glusterfs": true, "pvfs2": true, "ocfs2": true, "lustre": true, "davfs": true,
}

// Network reports whether the mount needs the network: a remote file
// system type (also as fuse.TYPE) or the _netdev option.
func (m *Mount) Network() bool {
	return NetworkFSType(m.Type) || HasMountOption(m.Options, "_netdev")
}

// NetworkFSType reports a remote file system type (also as fuse.TYPE).
func NetworkFSType(t string) bool { return networkFSTypes[strings.TrimPrefix(t, "fuse.")] }

// HasMountOption reports whether the comma-separated opts contain name
// (as "name" or "name=value").
func HasMountOption(opts, name string) bool {
	_, ok := MountOptionValue(opts, name)
	return ok
}

// MountOptionValue returns the value of the last name= in opts ("" for a
// bare name) and whether it is there.
func MountOptionValue(opts, name string) (string, bool) {
	var val string
	found := false
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		if k == name {
			val, found = v, true
		}
	}
	return val, found
}

// parseMount reads [Mount]; it reports true when the unit cannot be used.
// The mount point must be the unit's name, as upstream requires.
func (u *Unit) parseMount(report func(error)) bool {
	m := &Mount{DirectoryMode: 0o755, Timeout: defaultTimeout}
	u.Mount = m
	m.What = u.str("Mount", "What", report)
	m.Where = u.str("Mount", "Where", report)
	m.Type = u.str("Mount", "Type", report)
	m.Options = u.str("Mount", "Options", report)
	m.SloppyOptions = u.boolean("Mount", "SloppyOptions", false, report)
	m.LazyUnmount = u.boolean("Mount", "LazyUnmount", false, report)
	m.ReadWriteOnly = u.boolean("Mount", "ReadWriteOnly", false, report)
	m.ForceUnmount = u.boolean("Mount", "ForceUnmount", false, report)
	m.DirectoryMode = u.mode("Mount", "DirectoryMode", 0o755, report)
	m.Timeout = u.timespan("Mount", "TimeoutSec", defaultTimeout, report)
	if m.Where == "" {
		m.Where = UnescapePath(strings.TrimSuffix(u.Name, ".mount"))
	}
	want, err := EscapePath(m.Where)
	if err != nil {
		report(fmt.Errorf("%s: Where=: %w, refusing", u.Name, err))
		return true
	}
	if want+".mount" != u.Name {
		report(fmt.Errorf("%s: Where=%s does not match the unit name (%s.mount), refusing", u.Name, m.Where, want))
		return true
	}
	m.Where = path.Clean(m.Where)
	if m.What == "" {
		report(fmt.Errorf("%s: What= setting is missing, refusing", u.Name))
		return true
	}
	u.addMountDependencies()
	return false
}

// ParentMounts names the mount units of the directories above the mount
// point, nearest last ("-.mount" first): upstream orders a mount after
// (and requires) those of them that exist.
func (m *Mount) ParentMounts() []string {
	w := path.Clean(m.Where)
	if !path.IsAbs(w) || w == "/" {
		return nil // a relative Where= is refused at load; its path.Dir never reaches "/"
	}
	var names []string
	for p := path.Dir(w); ; p = path.Dir(p) {
		names = append([]string{MountUnitName(p)}, names...)
		if p == "/" {
			break
		}
	}
	return names
}

// addMountDependencies binds a mount to the device unit of a /dev/… What=
// (not for bind mounts), as upstream does; the default dependencies are in
// deps.go.
func (u *Unit) addMountDependencies() {
	if dev := u.Mount.device(); dev != "" {
		u.Unit.BindsTo = appendUniq(u.Unit.BindsTo, dev)
		u.Unit.After = appendUniq(u.Unit.After, dev)
	}
}

// device is the device unit backing the mount: What= under /dev/ (not a
// bind mount), escaped; "" otherwise.
func (m *Mount) device() string {
	if !strings.HasPrefix(m.What, "/dev/") || HasMountOption(m.Options, "bind") || HasMountOption(m.Options, "rbind") {
		return ""
	}
	n, err := EscapePath(m.What)
	if err != nil {
		return ""
	}
	return n + ".device"
}
