package luo

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func memfd(t *testing.T, name, data string) int {
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

func content(t *testing.T, fd int) string {
	t.Helper()
	b := make([]byte, 4096)
	n, err := unix.Pread(fd, b, 0)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

// The whole handover against the fake device: memfds of two units go through a kexec with
// their names and contents, a service's own session is handed back as a session, a pipe
// (which the kernel cannot preserve) and a service session named "systemd" are refused,
// and the mapping under token 0 is a sealed memfd holding upstream's JSON.
func TestHandover(t *testing.T) {
	dev := NewFake()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	svcSess, err := dev.CreateSession("db")
	if err != nil {
		t.Fatal(err)
	}
	if err := svcSess.PreserveFD(memfd(t, "table", "rows"), 1); err != nil {
		t.Fatal(err)
	}
	bad, err := dev.CreateSession(SessionName) // a service grabbed our name
	if err != nil {
		t.Fatal(err)
	}
	units := map[string][]FD{
		"a.service": {{"one", memfd(t, "one", "1111")}, {"two", memfd(t, "two", "22")}, {"pipe", p[0]}},
		"b.service": {{"three", memfd(t, "three", "333")}, {"sess", svcSess.FD()}, {"evil", bad.FD()}},
	}
	state := map[string]int{"softReboots": 2, "kexecs": 0}
	s, problems, err := Preserve(dev, state, units)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, pr := range problems {
		msgs = append(msgs, pr.Error())
	}
	joined := strings.Join(msgs, "\n")
	if len(problems) != 2 || !strings.Contains(joined, `fd "pipe"`) || !strings.Contains(joined, `"evil": a service's LUO session may not be named "systemd"`) {
		t.Errorf("problems:\n%s", joined)
	}
	// The mapping as preserved: sealed, named, upstream's shape.
	fs := dev.out[SessionName]
	mfd := fs.preserve[0]
	if l, _ := readlinkFD(mfd); !strings.HasPrefix(l, "/memfd:"+MappingName) {
		t.Errorf("mapping fd is %q", l)
	}
	if seals, err := unix.FcntlInt(uintptr(mfd), unix.F_GET_SEALS, 0); err != nil || seals&unix.F_SEAL_WRITE == 0 || seals&unix.F_SEAL_SEAL == 0 {
		t.Errorf("mapping seals %#x, %v", seals, err)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(content(t, mfd)), &raw); err != nil {
		t.Fatal(err)
	}
	want := `{"state":{"kexecs":0,"softReboots":2},"units":{"a.service":{"fdstore":[{"name":"one","token":1,"type":"fd"},{"name":"two","token":2,"type":"fd"}]},"b.service":{"fdstore":[{"name":"three","token":3,"type":"fd"},{"name":"sess","sessionName":"db","type":"luo_session"}]}},"version":1}`
	if got, _ := json.Marshal(raw); string(got) != want {
		t.Errorf("mapping\n%s\nwant\n%s", got, want)
	}
	_ = s // held open over the "kexec", as the manager does
	// The memfds are closed (the kernel holds them now); the service's session stays open
	// in its store, ours too.
	for _, l := range units {
		for _, f := range l {
			if f.FD != p[0] && f.FD != bad.FD() && f.Name != "sess" {
				unix.Close(f.FD)
			}
		}
	}
	dev.Kexec()

	r, found, problems, err := Retrieve(dev)
	if err != nil || !found || len(problems) != 0 {
		t.Fatalf("Retrieve: found %v, problems %v, err %v", found, problems, err)
	}
	if string(r.State) != `{"kexecs":0,"softReboots":2}` {
		t.Errorf("state %s", r.State)
	}
	got := map[string]string{}
	for u, l := range r.Units {
		for _, f := range l {
			if name, ok := dev.SessionOf(f.FD); ok {
				got[u+"/"+f.Name] = "session:" + name
				continue
			}
			got[u+"/"+f.Name] = content(t, f.FD)
			unix.Close(f.FD)
		}
	}
	b, _ := json.Marshal(got)
	if string(b) != `{"a.service/one":"1111","a.service/two":"22","b.service/sess":"session:db","b.service/three":"333"}` {
		t.Errorf("retrieved %s", b)
	}
	if len(dev.Incoming()) != 0 {
		t.Errorf("sessions left: %v", dev.Incoming())
	}
	// The service's own session still holds its memfd.
	if ss := r.Units["b.service"][1]; ss.Name == "sess" {
		for _, s := range dev.sessions {
			if s.fd == ss.FD {
				if fd, err := s.RetrieveFD(1); err != nil || content(t, fd) != "rows" {
					t.Errorf("the service's session lost its fd: %v", err)
				}
			}
		}
	}
	// Nothing the second time: the session was finished.
	if _, found, _, err := Retrieve(dev); found || err != nil {
		t.Errorf("second Retrieve: found %v, err %v", found, err)
	}
}

func TestRetrieveNothing(t *testing.T) {
	if _, found, _, err := Retrieve(NewFake()); found || err != nil {
		t.Errorf("found %v, err %v", found, err)
	}
}

func TestParseMapping(t *testing.T) {
	for _, bad := range []string{``, `{`, `{"version":2,"units":{}}`, `[]`} {
		if _, err := ParseMapping([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if mp, err := ParseMapping([]byte(`{"version":1,"units":{"x.service":{"fdstore":[{"type":"fd","name":"n","token":4}]}}}`)); err != nil || mp.Units["x.service"].FDStore[0].Token != 4 {
		t.Errorf("%+v %v", mp, err)
	}
}

func FuzzParseMapping(f *testing.F) {
	f.Add([]byte(`{"version":1,"state":{"kexecs":1},"units":{"a.service":{"fdstore":[{"type":"luo_session","name":"s","sessionName":"db"}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseMapping(b) })
}

func TestIoctlNumbers(t *testing.T) {
	// _IO(0xBA, nr): no direction, no size.
	if ioc(cmdCreate) != 0xBA00 || ioc(cmdRetrieve) != 0xBA01 || ioc(cmdPreserveFD) != 0xBA40 || ioc(cmdRetrieveFD) != 0xBA41 || ioc(cmdFinish) != 0xBA42 {
		t.Errorf("ioctl numbers %#x %#x %#x %#x %#x", ioc(cmdCreate), ioc(cmdRetrieve), ioc(cmdPreserveFD), ioc(cmdRetrieveFD), ioc(cmdFinish))
	}
}

func readlinkFD(fd int) (string, error) {
	b := make([]byte, 256)
	n, err := unix.Readlink("/proc/self/fd/"+itoa(fd), b)
	if err != nil {
		return "", err
	}
	return string(b[:n]), nil
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
