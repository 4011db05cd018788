package pid1

// The service's mount namespace, built by the exec shim from the
// manager's mountOp list. The fork unshared the namespace and made every
// mount private; here each step bind-mounts a path onto itself (or a
// source onto it) and changes the new mount's attributes recursively with
// mount_setattr(2), so a read-only tree stays read-only below too.
// Sources of bind mounts are cloned (open_tree(2)) before any step runs,
// so that a later step (a private /tmp) cannot hide them.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// applyMounts runs the steps in order.
func applyMounts(ops []mountOp) error {
	clones := map[int]int{} // op index → detached tree of its bind source
	defer func() {
		for _, fd := range clones {
			unix.Close(fd)
		}
	}()
	for i, op := range ops {
		src := op.Source
		switch op.Kind {
		case "bind":
		case "inaccessible":
			src = filepath.Join(op.Source, "reg") // for a target that is not a directory
		default:
			continue
		}
		flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
		if op.Recursive {
			flags |= unix.AT_RECURSIVE
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, src, uint(flags))
		if err != nil {
			if op.Optional && errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("bind source %s: %w", op.Source, err)
		}
		clones[i] = fd
	}
	for i, op := range ops {
		if err := applyMount(op, clones[i]); err != nil {
			if op.Optional && errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("%s %s: %w", op.Kind, op.Path, err)
		}
	}
	return nil
}

func applyMount(op mountOp, clone int) error {
	if op.Kind == "bind" && clone == 0 {
		return unix.ENOENT // optional source missing
	}
	st, err := os.Stat(op.Path)
	if err != nil && op.Kind != "tmpfs" && op.Kind != "bind" {
		return err
	}
	switch op.Kind {
	case "ro", "rw":
		if op.Path != "/" {
			if err := unix.Mount(op.Path, op.Path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return err
			}
		}
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if op.Kind == "rw" {
			attr = unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}
		}
		return unix.MountSetattr(unix.AT_FDCWD, op.Path, unix.AT_RECURSIVE, &attr)
	case "inaccessible":
		if st.IsDir() {
			return unix.Mount("tmpfs", op.Path, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=000")
		}
		if clone == 0 {
			return fmt.Errorf("no inaccessible file under %s", op.Source)
		}
		if err := unix.MoveMount(clone, "", unix.AT_FDCWD, op.Path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return err
		}
		return readOnly(op.Path, false)
	case "tmpfs":
		if err := os.MkdirAll(op.Path, 0o755); err != nil {
			return err
		}
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
		if err := unix.Mount("tmpfs", op.Path, "tmpfs", flags, op.Options); err != nil {
			return err
		}
		if op.ReadOnly {
			return readOnly(op.Path, false)
		}
		return nil
	case "bind":
		if err := mountPointFor(op.Path, clone); err != nil {
			return err
		}
		if err := unix.MoveMount(clone, "", unix.AT_FDCWD, op.Path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return err
		}
		if op.ReadOnly {
			return readOnly(op.Path, true)
		}
		// A bind mount keeps its source's attributes; under a read-only
		// parent the destination is meant to be writable.
		return unix.MountSetattr(unix.AT_FDCWD, op.Path, unix.AT_RECURSIVE, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY})
	case "private-dev":
		return privateDev()
	case "proc":
		return unix.Mount("proc", op.Path, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, op.Options)
	}
	return fmt.Errorf("unknown mount step %q", op.Kind)
}

// readOnly makes the mount at p read-only (with its submounts).
func readOnly(p string, recursive bool) error {
	flags := 0
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	return unix.MountSetattr(unix.AT_FDCWD, p, uint(flags), &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
}

// mountPointFor creates p as a directory or an empty file, as the
// detached tree fd's root is, if it does not exist.
func mountPointFor(p string, fd int) error {
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return os.MkdirAll(p, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// privateDevNodes are the device nodes a private /dev has, as upstream's.
var privateDevNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// privateDev mounts a fresh /dev with only the pseudo devices, a new
// devpts instance, and the host's /dev/shm and /dev/mqueue.
func privateDev() error {
	clones := map[string]int{}
	defer func() {
		for _, fd := range clones {
			unix.Close(fd)
		}
	}()
	for _, n := range append(append([]string{}, privateDevNodes...), "shm", "mqueue", "hugepages") {
		fd, err := unix.OpenTree(unix.AT_FDCWD, "/dev/"+n, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("/dev/%s: %w", n, err)
		}
		clones[n] = fd
	}
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_STRICTATIME, "mode=0755"); err != nil {
		return err
	}
	for n, fd := range clones {
		p := "/dev/" + n
		if err := mountPointFor(p, fd); err != nil {
			return err
		}
		if err := unix.MoveMount(fd, "", unix.AT_FDCWD, p, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := os.Mkdir("/dev/pts", 0o755); err != nil {
		return err
	}
	if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		return fmt.Errorf("/dev/pts: %w", err)
	}
	for link, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, "/dev/"+link); err != nil {
			return err
		}
	}
	return nil
}
