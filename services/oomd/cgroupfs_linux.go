package oomd

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// sysXAttrs are the file system's own extended attributes.
type sysXAttrs struct{}

func (sysXAttrs) Get(dir, name string) (string, error) {
	buf := make([]byte, 256)
	n, err := unix.Getxattr(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func (sysXAttrs) Set(dir, name, value string) error {
	return unix.Setxattr(dir, name, []byte(value), 0)
}

// killFile returns the cgroup.kill file of p when the tree is a real cgroup2 file system
// that has one; a fake tree (tests, --root) never does, and is killed pid by pid.
func (fs *CGroupFS) killFile(p string) (string, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(fs.dir(p), &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "", false
	}
	f := filepath.Join(fs.dir(p), "cgroup.kill")
	if _, err := os.Stat(f); err != nil {
		return "", false
	}
	return f, true
}

// signal sends sig to pid; ESRCH (already gone) is reported as not sent.
func signal(pid int, sig unix.Signal) bool {
	err := unix.Kill(pid, sig)
	return err == nil
}

// isGone reports whether err means the cgroup disappeared.
func isGone(err error) bool {
	return err != nil && (os.IsNotExist(err) || strings.Contains(err.Error(), "no such device"))
}
