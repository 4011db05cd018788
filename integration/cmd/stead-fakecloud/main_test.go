package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
)

// The test binary doubles as stead-fakecloud when this variable is set.
const runMain = "STEAD_FAKECLOUD_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMain) == "1" {
		os.Args = append([]string{"stead-fakecloud"}, strings.Fields(os.Getenv("STEAD_FAKECLOUD_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startBinary runs stead-fakecloud with args and returns the addresses it printed.
func startBinary(t *testing.T, args ...string) (listen []string, control string, stderr *harness.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMain+"=1", "STEAD_FAKECLOUD_ARGS="+strings.Join(args, " "))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr = &harness.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			t.Error("stead-fakecloud ignored SIGTERM")
		}
	})
	sc := bufio.NewScanner(stdout)
	want := 0
	for _, a := range args {
		if strings.HasPrefix(a, "--listen=") || strings.HasPrefix(a, "--control=") {
			want++
		}
	}
	for len(listen)+btoi(control != "") < want && sc.Scan() {
		kind, addr, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "listen":
			listen = append(listen, addr)
		case "control":
			control = addr
		}
	}
	if len(listen)+btoi(control != "") < want {
		t.Fatalf("stead-fakecloud printed too few addresses; stderr:\n%s", stderr)
	}
	go io.Copy(io.Discard, stdout)
	return listen, control, stderr
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func get(t *testing.T, method, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBinary(t *testing.T) {
	ud := filepath.Join(t.TempDir(), "ud")
	os.WriteFile(ud, []byte("#systemd-userdata\nfrom a file\n"), 0o644)
	listen, control, stderr := startBinary(t, "--provider=google-gcp", "--listen=127.0.0.1:0",
		"--control=127.0.0.1:0", "--hostname=bin-host", "--public-ipv4=", "--user-data-file="+ud)
	base := "http://" + listen[0] + "/computeMetadata/v1/instance/"
	fl := []string{"Metadata-Flavor", "Google"}
	if st, body := get(t, "GET", base+"hostname", fl...); st != 200 || body != "bin-host" {
		t.Errorf("hostname: %d %q", st, body)
	}
	if st, _ := get(t, "GET", base+"network-interfaces/0/access-configs/0/external-ip", fl...); st != 404 {
		t.Errorf("emptied public IPv4: %d, want 404", st)
	}
	if st, body := get(t, "GET", base+"attributes/systemd-userdata", fl...); st != 200 || body != "#systemd-userdata\nfrom a file\n" {
		t.Errorf("user data: %d %q", st, body)
	}
	if st, _ := get(t, "GET", base+"hostname"); st != 403 {
		t.Errorf("without header: %d", st)
	}
	if st, body := get(t, "POST", "http://"+control+"/_fault?mode=status&status=429&count=1"); st != 200 {
		t.Fatalf("control: %d %s", st, body)
	}
	if st, _ := get(t, "GET", base+"hostname", fl...); st != 429 {
		t.Errorf("faulted: %d", st)
	}
	if st, body := get(t, "GET", "http://"+control+"/_requests?path=/computeMetadata/v1/instance/hostname"); st != 200 || !strings.Contains(body, `"count": 3`) {
		t.Errorf("requests: %d %s", st, body)
	}
	// The metadata listener does not serve the control API.
	if st, _ := get(t, "GET", "http://"+listen[0]+"/_requests", fl...); st != 404 {
		t.Errorf("control API on the metadata listener: %d", st)
	}
	time.Sleep(50 * time.Millisecond)
	if !strings.Contains(stderr.String(), "path=/computeMetadata/v1/instance/hostname status=429") {
		t.Errorf("request not logged; stderr:\n%s", stderr)
	}
}

func TestBinaryUsage(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMain+"=1", "STEAD_FAKECLOUD_ARGS=--provider=amazon-ec2")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "Usage: stead-fakecloud") {
		t.Errorf("without --listen: %v\n%s", err, out)
	}
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMain+"=1", "STEAD_FAKECLOUD_ARGS=--list")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "akamai-linode") {
		t.Errorf("--list: %v\n%s", err, out)
	}
}
