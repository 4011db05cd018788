package pid1

// Kexec (io.systemd.Manager.KExec, steadctl kexec): the kernel to boot is loaded with
// kexec_file_load(2) before anything stops (so that a missing or bad kernel is the caller's
// error, not a half-stopped system), then every unit stops and PID 1 reboots with
// LINUX_REBOOT_CMD_KEXEC. With /dev/liveupdate the fd stores of
// FileDescriptorStorePreserve=yes units, and the counters, go through the kernel's Live
// Update Orchestrator (luo/) and come back after the boot; without it they are dropped, with
// a warning, and KExecsCount stays 0. See docs/init.md, "Kexec".

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/services/pid1/luo"
)

// KexecConf is stead's own kexec configuration, read when no boot loader entry names a
// kernel: KEY=VALUE lines Kernel=, Initrd=, Options= (the kernel command line; default: the
// running kernel's).
const KexecConf = "/etc/stead/kexec.conf"

// kexecEntry is the kernel to boot.
type kexecEntry struct {
	source, kernel, initrd, options string
}

// kexecLoaded reports whether a kexec kernel is loaded already (kexec -l, an earlier KExec).
func (m *Manager) kexecLoaded() bool {
	b, err := os.ReadFile(m.hostPath("/sys/kernel/kexec_loaded"))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// findKexecEntry picks the kernel to boot: the default Boot Loader Specification entry
// (loader.conf's default= glob, else the last entry in version order) in /boot, /efi or
// /boot/efi, whose linux, initrd and options lines are used as upstream does; else
// KexecConf.
func (m *Manager) findKexecEntry() (kexecEntry, error) {
	for _, esp := range []string{"/boot", "/efi", "/boot/efi"} {
		dir := m.hostPath(filepath.Join(esp, "loader/entries"))
		names, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
		if len(names) == 0 {
			continue
		}
		sort.Strings(names)
		pick := names[len(names)-1]
		if kv := readKV(m.hostPath(filepath.Join(esp, "loader/loader.conf")), " \t"); kv["default"] != "" {
			for _, n := range names {
				if ok, _ := filepath.Match(kv["default"], filepath.Base(n)); ok {
					pick = n
				}
			}
		}
		kv := readKV(pick, " \t")
		if kv["linux"] == "" {
			return kexecEntry{}, fmt.Errorf("boot loader entry %s has no linux line", pick)
		}
		e := kexecEntry{source: pick, kernel: m.hostPath(filepath.Join(esp, kv["linux"])), options: kv["options"]}
		if kv["initrd"] != "" {
			e.initrd = m.hostPath(filepath.Join(esp, kv["initrd"]))
		}
		return e, nil
	}
	kv := readKV(m.hostPath(KexecConf), "=")
	if kv["Kernel"] == "" {
		return kexecEntry{}, fmt.Errorf("no kernel to kexec: no boot loader entry in /boot, /efi or /boot/efi and no Kernel= in %s", KexecConf)
	}
	e := kexecEntry{source: KexecConf, kernel: m.hostPath(kv["Kernel"]), options: kv["Options"]}
	if kv["Initrd"] != "" {
		e.initrd = m.hostPath(kv["Initrd"])
	}
	return e, nil
}

// readKV reads KEY<sep>VALUE lines (the first of several initrd lines counts; # comments).
func readKV(p, seps string) map[string]string {
	kv := map[string]string{}
	f, err := os.Open(p)
	if err != nil {
		return kv
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.IndexAny(l, seps)
		if i < 0 {
			continue
		}
		k, v := l[:i], strings.TrimSpace(l[i+1:])
		if _, seen := kv[k]; !seen {
			kv[k] = v
		}
	}
	return kv
}

// loadKexec loads the kernel to boot unless one is loaded already.
func (m *Manager) loadKexec() error {
	if m.kexecLoaded() {
		m.log.Info("kexec: using the kernel already loaded")
		return nil
	}
	e, err := m.findKexecEntry()
	if err != nil {
		return err
	}
	if e.options == "" {
		b, _ := os.ReadFile(m.hostPath("/proc/cmdline"))
		e.options = strings.TrimSpace(string(b))
	}
	kfd, err := unix.Open(e.kernel, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("kexec kernel: %w", err)
	}
	defer unix.Close(kfd)
	ifd, flags := -1, 0
	if e.initrd != "" {
		if ifd, err = unix.Open(e.initrd, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("kexec initrd: %w", err)
		}
		defer unix.Close(ifd)
	} else {
		flags |= unix.KEXEC_FILE_NO_INITRAMFS
	}
	if err := unix.KexecFileLoad(kfd, ifd, e.options, flags); err != nil {
		return fmt.Errorf("kexec_file_load %s: %w", e.kernel, err)
	}
	m.log.Info("kexec kernel loaded", "from", e.source, "kernel", e.kernel, "initrd", e.initrd, "options", e.options)
	return nil
}

// kexecState is the state the LUO mapping carries besides the fds.
type kexecState struct {
	SoftReboots int `json:"softReboots"`
	KExecs      int `json:"kexecs"`
}

// KexecHandover is PID 1's step before reboot(KEXEC), once Run has returned: the preserved
// fd stores go to the Live Update Orchestrator when the kernel has it, else they are
// dropped with a warning.
func (m *Manager) KexecHandover(log *slog.Logger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	units := map[string][]luo.FD{}
	n := 0
	for name, us := range m.units {
		if !preserved(us) {
			continue
		}
		for _, s := range us.svc.fdStore {
			units[name] = append(units[name], luo.FD{Name: s.name, FD: s.fd})
			n++
		}
	}
	dev, err := m.xs.openLUO()
	if err != nil {
		if n > 0 {
			log.Warn("kexec without the Live Update Orchestrator: fd stores are dropped, KExecsCount will be 0", "fds", n, "err", err)
		} else {
			log.Info("kexec without the Live Update Orchestrator", "err", err)
		}
		return
	}
	s, problems, err := luo.Preserve(dev, kexecState{SoftReboots: m.xs.softReboots, KExecs: m.xs.kexecs}, units)
	for _, p := range problems {
		log.Warn("kexec: a stored fd cannot be preserved, dropped", "err", p.Error())
	}
	if err != nil {
		log.Error("kexec: the Live Update Orchestrator handover failed, fd stores are dropped", "err", err)
		dev.Close()
		return
	}
	m.xs.luoSession = s // open until the reboot; so is dev
	log.Info("kexec: fd stores handed to the Live Update Orchestrator", "units", len(units), "fds", n-len(problems))
}

// retrieveKexec takes back what the previous kernel's manager preserved, if anything: the
// counters (KExecsCount one up) and the fd stores, given back to their units. Called by
// resume at a fresh boot as PID 1.
func (m *Manager) retrieveKexec() {
	dev, err := m.xs.openLUO()
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.log.Debug("no Live Update Orchestrator", "err", err)
		}
		return
	}
	defer dev.Close()
	r, found, problems, err := luo.Retrieve(dev)
	for _, p := range problems {
		m.log.Warn("kexec: a preserved fd could not be retrieved", "err", p.Error())
	}
	if err != nil {
		m.log.Error("kexec: retrieving the handover failed", "err", err)
	}
	if !found {
		return
	}
	m.restoreKexec(r)
}

// restoreKexec applies a retrieved handover.
func (m *Manager) restoreKexec(r luo.Retrieved) {
	var st kexecState
	if len(r.State) > 0 {
		if err := json.Unmarshal(r.State, &st); err != nil {
			m.log.Warn("kexec: state of the previous boot unreadable", "err", err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.xs.softReboots, m.xs.kexecs = st.SoftReboots, st.KExecs+1
	nfds := 0
	for name, fds := range r.Units {
		us, err := m.get(name)
		if err != nil || us.u.Service == nil {
			m.log.Warn("kexec: the unit of preserved fds is gone, closed", "unit", name, "err", err)
			for _, f := range fds {
				unix.Close(f.FD)
			}
			continue
		}
		for _, f := range fds {
			unix.CloseOnExec(f.FD)
			s := &storedFD{fd: f.FD, name: f.Name}
			if err := m.watchFD(us, s); err != nil {
				m.log.Warn("cannot watch a stored fd", "unit", name, "err", err)
			}
			us.svc.fdStore = append(us.svc.fdStore, s)
			nfds++
		}
	}
	m.log.Info("kexec: fd stores retrieved from the Live Update Orchestrator", "units", len(r.Units), "fds", nfds, "kexecs", m.xs.kexecs)
}
