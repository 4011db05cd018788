package pid1

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/services/pid1/luo"
)

// stateManager is a host-mode manager over root whose log goes to logs.
func stateManager(t *testing.T, root string, logs *lockedBuf, f *os.File) *Manager {
	t.Helper()
	m, err := New(Config{Root: root, Host: true, ShimArgv: []string{"/bin/false"}, Deserialize: f,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func stateMemfd(t *testing.T, name, data string) int {
	t.Helper()
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, []byte(data)); err != nil {
		t.Fatal(err)
	}
	return fd
}

// storeContents is a unit's store as NAME=CONTENT,….
func storeContents(t *testing.T, us *unitState) string {
	t.Helper()
	var l []string
	for _, s := range us.svc.fdStore {
		b := make([]byte, 64)
		n, _ := unix.Pread(s.fd, b, 0)
		l = append(l, s.name+"="+string(b[:max(n, 0)]))
	}
	return strings.Join(l, ",")
}

// A re-execution's state, written and read back into a second manager (as the new process
// would): unit states, a service's pids, phase and fd store (names, contents, watched),
// a socket unit's listener, a queued job, the children and the counters survive.
func TestSerializeRoundTrip(t *testing.T) {
	root := shortRoot(t)
	writeTree(t, root, map[string]string{
		"etc/systemd/system/a.service": "[Service]\nExecStart=/bin/sleep 100\nExecStop=/bin/true\nExecStop=/bin/true\nFileDescriptorStoreMax=4\n",
		"etc/systemd/system/b.socket":  "[Socket]\nListenStream=/run/b.sock\n",
		"etc/systemd/system/b.service": "[Service]\nExecStart=/bin/true\n",
	})
	logs := &lockedBuf{}
	m1 := stateManager(t, root, logs, nil)
	if err := m1.openNotify(); err != nil {
		t.Fatal(err)
	}
	defer m1.notifyConn.Close()
	m1.mu.Lock()
	a, err := m1.get("a.service")
	if err != nil {
		t.Fatal(err)
	}
	a.active, a.sub, a.svc.phase, a.svc.mainPID, a.svc.status, a.svc.nRestarts = StateDeactivating, subStop, phaseStop, 4242, "busy", 3
	a.svc.queue = a.u.Service.ExecStop[1:]
	a.rt.invocationID = "0123"
	a.svc.fdStore = []*storedFD{{fd: stateMemfd(t, "x", "one"), name: "first"}, {fd: stateMemfd(t, "y", "two"), name: "second"}}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	m1.pids[4242] = &proc{pid: 4242, us: a, main: true, log: os.NewFile(uintptr(p[0]), "|a.service")}
	b, _ := m1.get("b.socket")
	lfd, err := m1.listen("/run/b.sock", unix.SOCK_STREAM, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	b.sock.fds, b.active, b.sub = []int{lfd}, StateActive, subListening
	bs, _ := m1.get("b.service")
	j, _ := m1.addJob(bs, JobStart, nil, map[string]bool{})
	j.run, bs.active, bs.sub = true, StateActivating, subStart // waiting for the service to be up
	m1.xs.softReboots, m1.installedJobs = 2, 7
	var k fdKeeper
	st, err := m1.serialize(&k)
	m1.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := writeSerialized(st)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "state")
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}

	m2 := stateManager(t, root, logs, f)
	if m2.notifyConn == nil {
		t.Error("notify socket not inherited")
	} else {
		defer m2.notifyConn.Close()
	}
	if !m2.resume() {
		t.Fatal("resume: not a re-execution")
	}
	m2.mu.Lock()
	defer m2.mu.Unlock()
	a2, b2, bs2 := m2.units["a.service"], m2.units["b.socket"], m2.units["b.service"]
	if a2 == nil || b2 == nil || bs2 == nil {
		t.Fatalf("units: %v", m2.listLocked())
	}
	if a2.active != StateDeactivating || a2.sub != subStop || a2.svc.phase != phaseStop || a2.svc.mainPID != 4242 ||
		a2.svc.status != "busy" || a2.svc.nRestarts != 3 || a2.rt.invocationID != "0123" || len(a2.svc.queue) != 1 {
		t.Errorf("a.service: %s %s %+v", a2.active, a2.sub, a2.svc)
	}
	if got := storeContents(t, a2); got != "first=one,second=two" {
		t.Errorf("fd store: %q", got)
	}
	if p := m2.pids[4242]; p == nil || !p.main || p.us != a2 || p.log == nil {
		t.Errorf("process: %+v", p)
	}
	if len(b2.sock.fds) != 1 || b2.active != StateActive {
		t.Errorf("b.socket: %s %v", b2.active, b2.sock.fds)
	} else if sa, err := unix.Getsockname(b2.sock.fds[0]); err != nil || sa.(*unix.SockaddrUnix).Name != filepath.Join(root, "run/b.sock") {
		t.Errorf("b.socket's listener: %v %v", sa, err)
	}
	if j := m2.jobs["b.service"]; j == nil || j.typ != JobStart || !j.run || j.id != 1 || bs2.job != j {
		t.Errorf("job: %+v", j)
	}
	if m2.xs.softReboots != 2 || m2.installedJobs != 7 || m2.reloadCount != 0 {
		t.Errorf("counters: %+v installed %d", m2.xs, m2.installedJobs)
	}
	if b2.sock.watchOn != nil {
		close(b2.sock.watchOn)
	}
	if js, _ := json.Marshal(st); !strings.Contains(string(js), `"version":1,"kind":"reexec"`) {
		t.Errorf("serialized: %s", js)
	}
}

func TestDeserializeRefusesOtherVersions(t *testing.T) {
	root := shortRoot(t)
	for _, text := range []string{`{"version":2,"kind":"reexec","units":[]}`, `garbage`} {
		fd, _ := unix.MemfdCreate("s", 0)
		unix.Write(fd, []byte(text))
		unix.Seek(fd, 0, 0)
		logs := &lockedBuf{}
		m := stateManager(t, root, logs, os.NewFile(uintptr(fd), "s"))
		if m.xs.restore != nil || !strings.Contains(logs.String(), "starting afresh") {
			t.Errorf("%s accepted:\n%s", text, logs)
		}
	}
}

// The kexec handover of a manager against the fake LUO device: the Preserve=yes service's
// memfds come back after the "kexec" with their names and contents, a pipe and a service's
// own session named "systemd" are refused with a log line each, a Preserve=restart store is
// not handed over, and KExecsCount goes one up while SoftRebootsCount carries over.
func TestKexecHandoverFake(t *testing.T) {
	root := shortRoot(t)
	writeTree(t, root, map[string]string{
		"etc/systemd/system/keep.service": "[Service]\nExecStart=/bin/true\nFileDescriptorStoreMax=8\nFileDescriptorStorePreserve=yes\n",
		"etc/systemd/system/drop.service": "[Service]\nExecStart=/bin/true\nFileDescriptorStoreMax=8\n",
	})
	dev := luo.NewFake()
	logs := &lockedBuf{}
	m1 := stateManager(t, root, logs, nil)
	m1.xs.openLUO = func() (luo.Device, error) { return dev, nil }
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	evil, err := dev.CreateSession("systemd")
	if err != nil {
		t.Fatal(err)
	}
	m1.mu.Lock()
	keep, _ := m1.get("keep.service")
	drop, _ := m1.get("drop.service")
	keep.svc.fdStore = []*storedFD{{fd: stateMemfd(t, "a", "alpha"), name: "a"}, {fd: p[0], name: "pipe"},
		{fd: evil.FD(), name: "evil"}, {fd: stateMemfd(t, "b", "beta"), name: "b"}}
	drop.svc.fdStore = []*storedFD{{fd: stateMemfd(t, "c", "gamma"), name: "c"}}
	m1.xs.softReboots = 3
	m1.mu.Unlock()
	m1.KexecHandover(m1.log)
	for _, want := range []string{`fd \"pipe\"`, `fd \"evil\": a service's LUO session may not be named \"systemd\"`, "fd stores handed to the Live Update Orchestrator"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q in the log:\n%s", want, logs)
		}
	}
	dev.Kexec()

	m2 := stateManager(t, root, logs, nil)
	m2.xs.openLUO = func() (luo.Device, error) { return dev, nil }
	m2.retrieveKexec()
	m2.mu.Lock()
	defer m2.mu.Unlock()
	if got := storeContents(t, m2.units["keep.service"]); got != "a=alpha,b=beta" {
		t.Errorf("keep.service after the kexec: %q", got)
	}
	if d := m2.units["drop.service"]; d != nil && len(d.svc.fdStore) > 0 {
		t.Errorf("drop.service's store was handed over")
	}
	if m2.xs.kexecs != 1 || m2.xs.softReboots != 3 {
		t.Errorf("counters after the kexec: %+v", m2.xs)
	}
	m2.mu.Unlock()
	_, r := m2.Describe()
	m2.mu.Lock()
	if r.KExecCount != 1 || *r.KExecsCount != 1 || r.SoftRebootsCount != 3 {
		t.Errorf("Describe: KExecCount %d, SoftRebootsCount %d", r.KExecCount, r.SoftRebootsCount)
	}
}

// Without /dev/liveupdate the handover warns and keeps nothing.
func TestKexecWithoutLUO(t *testing.T) {
	root := shortRoot(t)
	writeTree(t, root, map[string]string{
		"etc/systemd/system/keep.service": "[Service]\nExecStart=/bin/true\nFileDescriptorStoreMax=8\nFileDescriptorStorePreserve=yes\n",
	})
	logs := &lockedBuf{}
	m := stateManager(t, root, logs, nil) // root has no dev/liveupdate
	m.mu.Lock()
	keep, _ := m.get("keep.service")
	keep.svc.fdStore = []*storedFD{{fd: stateMemfd(t, "a", "alpha"), name: "a"}}
	m.mu.Unlock()
	m.KexecHandover(m.log)
	if !strings.Contains(logs.String(), "fd stores are dropped, KExecsCount will be 0") {
		t.Errorf("no warning:\n%s", logs)
	}
	m.retrieveKexec()
	if m.xs.kexecs != 0 {
		t.Errorf("KExecsCount %d", m.xs.kexecs)
	}
}

// The kernel to kexec: the default boot loader entry (loader.conf's default= glob), else the
// last one, else /etc/stead/kexec.conf.
func TestFindKexecEntry(t *testing.T) {
	root := shortRoot(t)
	m := stateManager(t, root, &lockedBuf{}, nil)
	if _, err := m.findKexecEntry(); err == nil || !strings.Contains(err.Error(), "no kernel to kexec") {
		t.Errorf("nothing configured: %v", err)
	}
	writeTree(t, root, map[string]string{"etc/stead/kexec.conf": "# c\nKernel=/k/vmlinuz\nInitrd=/k/initrd\n"})
	if e, err := m.findKexecEntry(); err != nil || e.kernel != filepath.Join(root, "k/vmlinuz") || e.initrd != filepath.Join(root, "k/initrd") || e.options != "" {
		t.Errorf("kexec.conf: %+v %v", e, err)
	}
	writeTree(t, root, map[string]string{
		"boot/loader/entries/a-6.1.conf": "title A\nlinux /a/linux\ninitrd /a/initrd\ninitrd /a/second\noptions root=A quiet\n",
		"boot/loader/entries/b-6.2.conf": "title B\nlinux /b/linux\noptions root=B\n",
	})
	if e, err := m.findKexecEntry(); err != nil || e.kernel != filepath.Join(root, "boot/b/linux") || e.initrd != "" || e.options != "root=B" {
		t.Errorf("last entry: %+v %v", e, err)
	}
	writeTree(t, root, map[string]string{"boot/loader/loader.conf": "timeout 3\ndefault a-*\n"})
	if e, err := m.findKexecEntry(); err != nil || e.kernel != filepath.Join(root, "boot/a/linux") || e.initrd != filepath.Join(root, "boot/a/initrd") || e.options != "root=A quiet" {
		t.Errorf("default entry: %+v %v", e, err)
	}
}

// Soft-reboot and kexec are refused in host mode.
func TestTransitionsRefusedInHostMode(t *testing.T) {
	m := stateManager(t, shortRoot(t), &lockedBuf{}, nil)
	if err := m.requestTransition(ActionSoftReboot, ""); err == nil || !strings.Contains(err.Error(), "host mode") {
		t.Errorf("soft-reboot in host mode: %v", err)
	}
}

func FuzzReadSerialized(f *testing.F) {
	f.Add([]byte(`{"version":1,"kind":"reexec","notifyFD":-1,"units":[{"name":"a.service","activeState":"active","subState":"running","runtime":{"stateChange":[1,2]},"service":{"phase":"running","queued":2,"fdStore":[{"fd":9,"name":"x"}]}}],"jobs":[{"id":1,"unit":"a.service","type":"start"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := readSerialized(bytes.NewReader(b))
		if err == nil && st.Version != serialVersion {
			t.Errorf("version %d accepted", st.Version)
		}
	})
}
