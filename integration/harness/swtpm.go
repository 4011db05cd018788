package harness

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Swtpm is a software TPM (`swtpm socket --tpm2`) started for one test and stopped (by its
// pid) when the test ends. Its state lives in a fresh directory, so every PCR starts at zero.
type Swtpm struct {
	Dir    string // state and sockets
	Socket string // unix socket speaking raw TPM 2.0 commands (unix mode)
	Ctrl   string // its control socket, Socket + ".ctrl" as tpm2-tss's swtpm TCTI expects
	Port   int    // TCP data port (TCP mode; the control port is Port+1)
	Pid    int
	out    SyncBuffer
}

// Device is the TPM's name for --tpm2-device=: the socket's path, or swtpm:host=…,port=….
func (s *Swtpm) Device() string {
	if s.Socket != "" {
		return s.Socket
	}
	return "swtpm:host=127.0.0.1,port=" + strconv.Itoa(s.Port)
}

// TCTI is the TPM's name in tpm2-tss's TCTI syntax (for tpm2-tools and upstream systemd).
func (s *Swtpm) TCTI() string {
	if s.Socket != "" {
		return "swtpm:path=" + s.Socket
	}
	return "swtpm:host=127.0.0.1,port=" + strconv.Itoa(s.Port)
}

// StartSwtpm starts swtpm serving raw TPM commands on a unix socket (type=unixio), already
// started up (startup-clear). A missing swtpm stops the test through Require.
func StartSwtpm(t testing.TB) *Swtpm {
	t.Helper()
	return startSwtpm(t, false, "")
}

// StartSwtpmIn is StartSwtpm with the state and sockets in dir (which must exist), e.g. a
// directory inside the upstream root where chrooted programs reach it.
func StartSwtpmIn(t testing.TB, dir string) *Swtpm {
	t.Helper()
	return startSwtpm(t, false, dir)
}

// StartSwtpmTCP is StartSwtpm with swtpm's TCP server on 127.0.0.1 (raw commands and the
// Microsoft simulator protocol on Port, control on Port+1).
func StartSwtpmTCP(t testing.TB) *Swtpm {
	t.Helper()
	return startSwtpm(t, true, "")
}

func startSwtpm(t testing.TB, tcp bool, dir string) *Swtpm {
	t.Helper()
	bin := NeedCommand(t, "swtpm", "swtpm")
	if dir == "" {
		// A short directory: unix socket paths are limited to 107 bytes.
		d, err := os.MkdirTemp("", "swtpm-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	s := &Swtpm{Dir: dir}
	args := []string{"socket", "--tpm2", "--tpmstate", "dir=" + dir, "--flags", "not-need-init,startup-clear"}
	if tcp {
		s.Port = freePortPair(t)
		args = append(args, "--server", "type=tcp,port="+strconv.Itoa(s.Port)+",bindaddr=127.0.0.1",
			"--ctrl", "type=tcp,port="+strconv.Itoa(s.Port+1)+",bindaddr=127.0.0.1")
	} else {
		s.Socket = filepath.Join(dir, "sock")
		s.Ctrl = s.Socket + ".ctrl"
		args = append(args, "--server", "type=unixio,path="+s.Socket, "--ctrl", "type=unixio,path="+s.Ctrl)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Pid = cmd.Process.Pid
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(s.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(s.Pid, syscall.SIGKILL)
			<-done
		}
	})
	network, addr := "unix", s.Socket
	if tcp {
		network, addr = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("swtpm exited: %s", strings.TrimSpace(s.out.String()))
		default:
		}
		if c, err := net.Dial(network, addr); err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm does not listen on %s: %s", addr, s.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePortPair finds a TCP port on 127.0.0.1 whose successor is free too.
func freePortPair(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		l.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no free pair of TCP ports")
	return 0
}
