package sysupdate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stead-os/stead/lib/gpt"
	"github.com/stead-os/stead/lib/loop"
	"golang.org/x/sys/unix"
)

// --image=PATH: sysupdate operates on a disk image instead of the host. The image is attached
// to a loop device with partition scanning; its root partition (and /usr, if separate), found
// by the Discoverable Partitions Specification's types for this architecture, is mounted and
// used as --root=, and partition targets with Path=auto use the loop device, so their slots
// are the image's own.
//
// The mounts live in a private mount namespace: sysupdate re-executes itself in a new one
// (imageNamespaceEnv marks the child), so that whatever happens to the child — even SIGKILL —
// the kernel unmounts the file systems when the namespace goes away, and the loop device,
// attached with auto-clear, detaches once nothing holds it. On every other path the child
// unmounts and detaches itself.

// imageNamespaceEnv is set in the re-executed child that runs inside the private namespace,
// to the mount point the parent made for it: the parent removes it after the child ended,
// however it ended (in the parent's namespace it is never a mount point).
const imageNamespaceEnv = "STEAD_SYSUPDATE_IMAGE_NAMESPACE"

// partitionWait bounds the wait for the kernel's partition scan of a new loop device.
const partitionWait = 10 * time.Second

// Image is a disk image attached to a loop device with its file systems mounted.
type Image struct {
	Disk string // the loop device: the disk of Path=auto partition targets
	Root string // where the root partition is mounted

	dev        *loop.Device
	sectorSize int
	mounts     []string // innermost last
}

// runImage runs the verb of o on the disk image o.Image and returns the exit code.
func runImage(ctx context.Context, o Options) int {
	fail := func(err error) int {
		fmt.Fprintln(o.Stderr, err)
		return ExitFailure
	}
	if o.Root != "" && o.Root != "/" {
		return fail(errors.New("--root= and --image= may not be combined"))
	}
	mountPoint := os.Getenv(imageNamespaceEnv)
	if mountPoint == "" {
		return reexecPrivate(ctx, o)
	}
	im, err := OpenImage(o.Image, mountPoint)
	if err != nil {
		return fail(err)
	}
	o.Log.Info(fmt.Sprintf("Mounted image %s (%s) at %s.", o.Image, im.Disk, im.Root))
	o.Root, o.Image, o.autoDisk = im.Root, "", im.Disk
	code := Main(ctx, o)
	if err := im.Close(); err != nil {
		fmt.Fprintln(o.Stderr, err)
		code = ExitFailure
	}
	return code
}

// reexecPrivate runs this program again with the same arguments in a new mount namespace
// (Go makes its mounts private before the child starts), forwarding SIGINT/SIGTERM (through
// ctx) as SIGTERM; the child dies with us (PDEATHSIG).
func reexecPrivate(ctx context.Context, o Options) int {
	dir, err := os.MkdirTemp("", "sysupdate-image-")
	if err != nil {
		fmt.Fprintf(o.Stderr, "--image=: %v\n", err)
		return ExitFailure
	}
	defer os.Remove(dir)
	cmd := exec.CommandContext(ctx, "/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), imageNamespaceEnv+"="+dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, o.Stdout, o.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS, Pdeathsig: unix.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(unix.SIGTERM) }
	cmd.WaitDelay = time.Minute
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return ExitSuccess
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	case errors.Is(err, unix.EPERM):
		fmt.Fprintf(o.Stderr, "--image=: creating a private mount namespace: %v (needs CAP_SYS_ADMIN)\n", err)
	default:
		fmt.Fprintf(o.Stderr, "--image=: %v\n", err)
	}
	return ExitFailure
}

// OpenImage attaches the disk image at path and mounts its root (and /usr) partition on the
// empty directory mountPoint. Call it in a private mount namespace; Close undoes it.
func OpenImage(path, mountPoint string) (_ *Image, err error) {
	im := &Image{}
	defer func() {
		if err != nil {
			im.Close()
		}
	}()
	if im.dev, err = loop.Attach(path, false, true); err != nil {
		return nil, fmt.Errorf("--image=%s: %w", path, err)
	}
	im.Disk = im.dev.Path
	tab, err := gpt.ReadFile(im.Disk)
	if err != nil {
		return nil, fmt.Errorf("--image=%s: %w", path, err)
	}
	im.sectorSize = tab.SectorSize
	rootType, _ := gpt.TypeByName("root")
	usrType, _ := gpt.TypeByName("usr")
	root := pickPartition(tab, rootType)
	if root == nil {
		return nil, fmt.Errorf("--image=%s: no root partition of type %s (root for this architecture)", path, rootType)
	}
	im.Root = mountPoint
	if err := im.mount(*root, im.Root); err != nil {
		return nil, fmt.Errorf("--image=%s: %w", path, err)
	}
	if usr := pickPartition(tab, usrType); usr != nil {
		if err := im.mount(*usr, filepath.Join(im.Root, "usr")); err != nil {
			return nil, fmt.Errorf("--image=%s: /usr: %w", path, err)
		}
	}
	return im, nil
}

// pickPartition chooses among the partitions of type typ as the Discoverable Partitions
// Specification says: not those marked no-auto (bit 63) or labelled "_empty", and of the
// rest the one whose label holds the newest version (labels compared as versions).
func pickPartition(tab *gpt.Table, typ gpt.GUID) *gpt.Partition {
	var best *gpt.Partition
	for i := range tab.Partitions {
		p := &tab.Partitions[i]
		if p.Type != typ || p.Flags&gpt.NoAutoFlag != 0 || p.Label == EmptyLabel {
			continue
		}
		if best == nil || CompareVersions(p.Label, best.Label) > 0 {
			best = p
		}
	}
	return best
}

// mount mounts partition p of the image at dir, trying each block file system the kernel
// knows (as mount(8) does without -t).
func (im *Image) mount(p gpt.Partition, dir string) error {
	// The kernel may lack the GPT parser (then its partition scan finds nothing): tell it
	// about the partition from the table we read.
	if err := im.dev.AddPartition(p.Index, p.Offset(im.sectorSize), p.Size(im.sectorSize)); err != nil {
		return err
	}
	node, err := im.dev.WaitPartition(p.Index, partitionWait)
	if err != nil {
		return err
	}
	fstypes, err := blockFilesystems()
	if err != nil {
		return err
	}
	var errs []string
	for _, fs := range fstypes {
		err := unix.Mount(node, dir, fs, unix.MS_NOSUID|unix.MS_NODEV, "")
		if err == nil {
			im.mounts = append(im.mounts, dir)
			return nil
		}
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fs+": "+err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("mounting %s (partition %d, %q): %s", node, p.Index, p.Label, strings.Join(errs, "; "))
	}
	return fmt.Errorf("mounting %s (partition %d, %q): no file system the kernel knows", node, p.Index, p.Label)
}

// blockFilesystems lists the file system types of /proc/filesystems that need a device.
func blockFilesystems() ([]string, error) {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) == 1 {
			out = append(out, fields[0])
		}
	}
	return out, s.Err()
}

// Close unmounts the image's file systems (which syncs them) and detaches the loop device; it
// reports the first failure but always tries every step.
func (im *Image) Close() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for i := len(im.mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(im.mounts[i], 0); err != nil {
			// Busy: detach it from the tree now; the kernel finishes when it is free.
			keep(fmt.Errorf("unmounting %s: %w", im.mounts[i], err))
			unix.Unmount(im.mounts[i], unix.MNT_DETACH)
		}
	}
	im.mounts = nil
	if im.dev != nil {
		keep(im.dev.Detach())
		im.dev = nil
	}
	return first
}
