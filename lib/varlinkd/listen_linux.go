package varlinkd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/notify"
	"golang.org/x/sys/unix"
)

// RegistryDir is where systemd publishes Varlink sockets by interface name.
const RegistryDir = "/run/varlink/registry"

// Options says where and how Run serves.
type Options struct {
	// Root prefixes every path (socket, registry); "" or "/" is the real root.
	Root string
	// Socket is the path to bind when not socket-activated, e.g.
	// /run/systemd/io.systemd.InstanceMetadata. Parent directories are created.
	Socket string
	// Mode of a bound socket; 0 means 0666.
	Mode os.FileMode
	// IdleExit, when positive, ends Run after that long without connections if the listener
	// came from socket activation (the manager keeps listening and restarts us on demand).
	IdleExit time.Duration
	// Ready, if set, is called once the socket accepts connections, after READY=1 was sent
	// to the service manager (unless NoNotify).
	Ready func()
	// NoNotify leaves READY=1 to the caller: lib/daemon sends it once all of a daemon's
	// sockets are served and the daemon itself has started.
	NoNotify bool
	// Listener, if set, is served instead of binding Socket: a socket the caller kept open
	// over a re-execution (init's daemon-reexec). Run closes it when done but removes no
	// file.
	Listener net.Listener
}

// Run serves until ctx is done and removes what it created. It handles no signals: the
// caller (lib/daemon) turns them into a cancelled ctx or a Reload. With an activation fd
// named "varlink" (or a single fd) Run serves it: a listening socket is accepted on; a
// connected socket, as upstream's exec: addresses pass, is served alone and Run returns when
// its peer hangs up.
func (s *Server) Run(ctx context.Context, o Options) error {
	if o.Listener != nil {
		s.ready(o)
		return s.Serve(ctx, o.Listener, 0)
	}
	f, err := activationFile()
	if err != nil {
		return err
	}
	if f != nil {
		defer f.Close()
		if !isListening(f) {
			c, err := net.FileConn(f)
			if err != nil {
				return fmt.Errorf("activation socket: %w", err)
			}
			s.ready(o)
			s.ServeConn(ctx, c)
			return nil
		}
		l, err := net.FileListener(f)
		if err != nil {
			return fmt.Errorf("activation socket: %w", err)
		}
		s.ready(o)
		return s.Serve(ctx, l, o.IdleExit)
	}

	l, cleanup, err := s.bind(o)
	if err != nil {
		return err
	}
	defer cleanup()
	s.ready(o)
	return s.Serve(ctx, l, 0)
}

// ready tells the service manager (READY=1, unless NoNotify; a no-op without NOTIFY_SOCKET)
// and the caller.
func (s *Server) ready(o Options) {
	if !o.NoNotify {
		if _, err := notify.Ready(); err != nil {
			s.log.Warn("sd_notify READY=1", "err", err)
		}
	}
	if o.Ready != nil {
		o.Ready()
	}
}

// activationFile returns the fd passed by the service manager for Varlink, or nil.
func activationFile() (*os.File, error) {
	files := listenFiles()
	if len(files) == 0 {
		return nil, nil
	}
	if len(files) == 1 {
		return files[0], nil
	}
	var found *os.File
	for _, f := range files {
		if f.Name() == "varlink" && found == nil {
			found = f
			continue
		}
		f.Close()
	}
	if found == nil {
		return nil, errors.New("socket activation: several fds and none named \"varlink\"")
	}
	return found, nil
}

// listenFiles returns the fds the service manager passed (sd_listen_fds(3): LISTEN_PID is
// ours, LISTEN_FDS fds from 3 on, named by LISTEN_FDNAMES), close-on-exec, and unsets the
// variables so that children do not inherit them. go-systemd's activation.Files does the
// same, but its package imports crypto/tls, whose code would stay resident in every daemon
// (docs/varlinkd.md, "Memory").
func listenFiles() []*os.File {
	defer func() {
		for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"} {
			os.Unsetenv(v)
		}
	}()
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	files := make([]*os.File, 0, n)
	for i := range n {
		fd := listenFDsStart + i
		unix.CloseOnExec(fd)
		name := "LISTEN_FD_" + strconv.Itoa(fd)
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		files = append(files, os.NewFile(uintptr(fd), name))
	}
	return files
}

// listenFDsStart is the first fd the service manager passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// isListening tells a listening socket from a connected one (SO_ACCEPTCONN).
func isListening(f *os.File) bool {
	v, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && v != 0
}

// bind creates the socket under the root, and its registry symlinks; cleanup removes both.
func (s *Server) bind(o Options) (net.Listener, func(), error) {
	if o.Socket == "" {
		return nil, nil, errors.New("no socket path and no activation socket")
	}
	path := filepath.Join(rootOrSlash(o.Root), o.Socket)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		// A stale socket from an earlier run; a live one would still accept.
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, nil, fmt.Errorf("%s: another server is listening", path)
		}
		os.Remove(path)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	l.SetUnlinkOnClose(false) // removed by cleanup, after the registry links
	mode := o.Mode
	if mode == 0 {
		mode = 0o666
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		os.Remove(path)
		return nil, nil, err
	}
	links := s.linkRegistry(rootOrSlash(o.Root), path)
	cleanup := func() {
		l.Close()
		for _, link := range links {
			os.Remove(link)
		}
		os.Remove(path)
	}
	return l, cleanup, nil
}

// linkRegistry symlinks each public interface name to the socket; failures only warn, the
// registry is a convenience.
func (s *Server) linkRegistry(root, socket string) []string {
	dir := filepath.Join(root, RegistryDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.log.Warn("varlink registry", "err", err)
		return nil
	}
	target, err := filepath.Rel(dir, socket)
	if err != nil {
		target = socket
	}
	var made []string
	for _, name := range s.public {
		link := filepath.Join(dir, name)
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			s.log.Warn("varlink registry", "err", err)
			continue
		}
		made = append(made, link)
	}
	return made
}

func rootOrSlash(root string) string {
	if root == "" {
		return "/"
	}
	return root
}
