package pid1

// Re-execution (io.systemd.Manager.Reexecute, steadctl daemon-reexec) and soft-reboot
// (io.systemd.Manager.SoftReboot): the manager serializes its state (serialize_linux.go)
// into a memfd and execve()s itself with --deserialize=FD; services keep running, as our
// children, untouched. A soft-reboot first stops every unit and kills what is left, keeps
// only the fd stores of FileDescriptorStorePreserve=yes units and the counters, optionally
// moves into a new root (/run/nextroot), and the new incarnation boots default.target again.
// See docs/init.md, "Re-execution and soft-reboot".

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/services/pid1/luo"
)

// NextRoot is where a soft-reboot finds a new root file system, as upstream.
const NextRoot = "/run/nextroot"

// transitions is what survives a re-execution, soft-reboot or kexec, and the one under way.
// Guarded by m.mu.
type transitions struct {
	softReboots, kexecs int
	pending             string                  // ActionSoftReboot or ActionKexec once requested
	nextRoot            string                  // SoftReboot(root=): the new root, "" for NextRoot if mounted
	restore             *serialState            // handed over by the previous incarnation, until Run applies it
	inherited           map[string]net.Listener // Varlink sockets kept open, by path
	luoSession          luo.Session             // the kexec handover, open until the reboot
	openLUO             func() (luo.Device, error)
}

// initTransitions reads what the previous incarnation handed over. Called by New.
func (m *Manager) initTransitions() {
	m.xs.openLUO = func() (luo.Device, error) { return luo.Open(m.hostPath(luo.DevicePath)) }
	f := m.cfg.Deserialize
	if f == nil {
		return
	}
	m.cfg.Deserialize = nil
	st, err := readSerialized(f)
	f.Close()
	if err != nil {
		m.log.Error("the previous incarnation's state is unusable, starting afresh", "err", err)
		return
	}
	m.prepareRestore(st)
}

// withInherited gives s the listener kept for its path over a re-execution, if any.
func (m *Manager) withInherited(s daemon.Socket) daemon.Socket {
	s.Listener = m.xs.inherited[s.Path]
	return s
}

// resume applies the previous incarnation's state, when there is one, once the generators
// ran. It reports whether that boot goes on (a re-execution); after a soft-reboot, a kexec
// or a fresh boot, Run starts default.target.
func (m *Manager) resume() bool {
	st := m.xs.restore
	m.xs.restore = nil
	if st == nil {
		if m.cfg.PID1 {
			m.retrieveKexec() // kexec_linux.go
		}
		return false
	}
	m.mu.Lock()
	m.restoreUnits(st)
	m.mu.Unlock()
	m.log.Info("state of the previous incarnation restored", "kind", st.Kind, "units", len(st.Units),
		"jobs", len(st.Jobs), "processes", len(st.Procs), "softReboots", m.xs.softReboots)
	return st.Kind == serialReexec
}

// Reexecute serializes the manager and executes it again. It returns only when that failed;
// the manager then goes on.
func (m *Manager) Reexecute() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("the manager is shutting down")
	}
	var k fdKeeper
	st, err := m.serialize(&k)
	if err != nil {
		k.release()
		return err
	}
	return m.execWith(st, &k)
}

// execWith executes the manager with st (after a root switch, the binary at the same path in
// the new root). m.mu held, so that nothing changes after the state was taken. It returns only
// on failure, having closed the duplicates.
func (m *Manager) execWith(st *serialState, k *fdKeeper) error {
	fd, err := writeSerialized(st)
	if err != nil {
		k.release()
		return err
	}
	argv := m.execArgv(fd)
	m.log.Info("executing the manager again", "kind", st.Kind, "argv", strings.Join(argv, " "), "units", len(st.Units), "fds", len(k.fds))
	err = syscall.Exec(argv[0], argv, os.Environ())
	unix.Close(fd)
	k.release()
	return fmt.Errorf("execve %s: %w", argv[0], err)
}

// execArgv is the command line of the next incarnation: Config.ExecArgv, else our binary
// (its path as we were started, which in a new root is the new root's) and arguments, with
// --deserialize=FD.
func (m *Manager) execArgv(fd int) []string {
	argv := m.cfg.ExecArgv
	if argv == nil {
		self := os.Args[0]
		if !filepath.IsAbs(self) {
			if p, err := os.Executable(); err == nil {
				self = p
			}
		}
		argv = append([]string{self}, os.Args[1:]...)
	}
	var out []string
	for _, a := range argv {
		if !strings.HasPrefix(a, "--deserialize=") {
			out = append(out, a)
		}
	}
	return append(out, "--deserialize="+strconv.Itoa(fd))
}

// preserved reports whether us's store outlives the manager in a soft-reboot or kexec.
func preserved(us *unitState) bool {
	return us.u.Service != nil && us.u.Service.FileDescriptorStorePreserve == "yes"
}

// endFDStores releases the fd stores when Run ends: all of them, except, when a soft-reboot
// or kexec is under way, those of FileDescriptorStorePreserve=yes units.
func (m *Manager) endFDStores() {
	m.mu.Lock()
	pending := m.xs.pending
	if pending != "" {
		for _, us := range m.units {
			if !preserved(us) {
				m.releaseFDStore(us)
			}
		}
	}
	m.mu.Unlock()
	if pending == "" {
		m.closeFDStores()
	}
}

// requestTransition records a soft-reboot (into root, "" for NextRoot when mounted) or kexec
// and asks for the shutdown that precedes it.
func (m *Manager) requestTransition(action, root string) error {
	if m.cfg.Host || !m.cfg.PID1 {
		return fmt.Errorf("%s is only possible as PID 1, not in host mode", action)
	}
	if m.cfg.Shutdown == nil {
		return errors.New("no shutdown handler")
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errors.New("the manager is shutting down")
	}
	m.xs.pending, m.xs.nextRoot = action, root
	m.mu.Unlock()
	m.log.Info(action+" requested", "root", root)
	m.cfg.Shutdown(action)
	return nil
}

// SoftReboot is PID 1's last step of a soft-reboot, once Run has returned: every process
// left is killed, the root is switched when a new one is mounted, and the manager executes
// again with the counters and the preserved fd stores. It returns only on failure.
func (m *Manager) SoftReboot(log *slog.Logger) error {
	KillRemaining(log, 5*time.Second)
	m.mu.Lock()
	defer m.mu.Unlock()
	var k fdKeeper
	st := &serialState{Version: serialVersion, Kind: serialSoftReboot, NotifyFD: -1,
		Counters: serialCounters{SoftReboots: m.xs.softReboots + 1, KExecs: m.xs.kexecs}}
	for _, name := range m.listLocked() {
		us := m.units[name]
		if preserved(us) && len(us.svc.fdStore) > 0 {
			st.Units = append(st.Units, serialUnit{Name: name, Active: StateInactive, Sub: string(subDead),
				Service: &serialService{FDStore: m.serializeFDStore(us, &k)}})
		}
	}
	root := m.xs.nextRoot
	if root == "" && isMountPoint(NextRoot) {
		root = NextRoot
	}
	if root != "" {
		if err := switchRoot(root); err != nil {
			log.Error("cannot switch into the new root, soft-rebooting in the old one", "root", root, "err", err)
		} else {
			log.Info("switched into the new root", "root", root)
		}
	}
	return m.execWith(st, &k)
}

// ReexecOnSIGTERM makes SIGTERM re-execute the manager, as it does upstream's PID 1 (and
// systemctl daemon-reexec). A failed re-execution is logged; the manager goes on.
func (m *Manager) ReexecOnSIGTERM() (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				m.log.Info("SIGTERM: re-executing")
				if err := m.Reexecute(); err != nil {
					m.log.Error("re-execution failed, going on", "err", err)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// isMountPoint reports whether p is a mount point (its device differs from its parent's).
func isMountPoint(p string) bool {
	var a, b unix.Stat_t
	if unix.Stat(p, &a) != nil || unix.Stat(filepath.Dir(p), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

// switchRoot makes root the root directory: the API file systems move into it, then it is
// moved onto / and chrooted into (the way switch_root does it, which works from an
// initramfs too, where pivot_root does not). The old root's files stay where they are.
func switchRoot(root string) error {
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", root)
	}
	if !isMountPoint(root) {
		// MS_MOVE needs a mount point: bind it onto itself.
		if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", root, err)
		}
	}
	for _, p := range []string{"/dev", "/proc", "/sys", "/run"} {
		target := filepath.Join(root, p)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		// /run cannot move into a root below itself (/run/nextroot): it is bound there
		// instead, the same file system either way.
		if p == "/run" && strings.HasPrefix(root, "/run/") {
			if err := unix.Mount(p, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind /run: %w", err)
			}
			continue
		}
		if err := unix.Mount(p, target, "", unix.MS_MOVE, ""); err != nil {
			if err := unix.Mount(p, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("move %s: %w", p, err)
			}
		}
	}
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.Mount(root, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s onto /: %w", root, err)
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	return unix.Chdir("/")
}
