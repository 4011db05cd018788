package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain runs main() when the test binary is started as imdsd by the tests below.
func TestMain(m *testing.M) {
	if os.Getenv("IMDSD_TEST_MAIN") == "1" {
		os.Args = append([]string{"imdsd"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// run starts imdsd with args and a clean environment plus env; it returns stdout, stderr and
// the exit code.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"IMDSD_TEST_MAIN=1", "SYSTEMD_PROC_CMDLINE=", "PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestFlags(t *testing.T) {
	if out, _, code := run(t, nil, "--help"); code != 0 || !strings.Contains(out, "--well-known-key=NAME:KEY") {
		t.Errorf("--help: %d %q", code, out)
	}
	if out, _, code := run(t, nil, "--version"); code != 0 || !strings.HasPrefix(out, "imdsd (stead) ") {
		t.Errorf("--version: %d %q", code, out)
	}
	for _, bad := range [][]string{
		{"--bogus"}, {"--fwmark=abc"}, {"--cache=maybe"}, {"--wait=perhaps"}, {"--refresh=abc"},
		{"--extra-header=bad"}, {"--address-ipv4=fd00::1"}, {"--data-url=ftp://x"},
		{"--well-known-key=ipv4_public:/p"}, {"--retries=0"}, {"/a", "/b"},
		{"--setup-network", "/key"},
	} {
		if _, _, code := run(t, nil, bad...); code != 1 {
			t.Errorf("%v: exit %d, want 1", bad, code)
		}
	}
}

func TestQueryAndSetupNetwork(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hostname" && r.Header.Get("Metadata") == "true" {
			io.WriteString(w, "piff")
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	root := t.TempDir()
	common := []string{"--root=" + root, "-i", "lo", "--data-url=" + srv.URL, "--extra-header=Metadata: true",
		"--retry-initial=1ms", "--request-timeout=5s"}
	if os.Getuid() != 0 {
		common = append(common, "--fwmark=")
	}
	// Options after the key, as getopt allows.
	out, errOut, code := run(t, nil, append([]string{"/hostname"}, common...)...)
	if code != 0 || out != "piff" {
		t.Errorf("query: %d %q\n%s", code, out, errOut)
	}
	out, _, code = run(t, nil, append(common, "--well-known-key=hostname:/hostname", "-K", "hostname", "--cache=no", "-w")...)
	if code != 0 || out != "piff" {
		t.Errorf("-K hostname: %d %q", code, out)
	}
	if _, _, code = run(t, nil, append(common, "/nothere")...); code != 1 {
		t.Errorf("missing key: exit %d", code)
	}
	if _, _, code = run(t, nil, "--root="+root, "/hostname"); code != 6 {
		t.Errorf("not configured: exit %d, want 6", code)
	}

	env := []string{"SYSTEMD_IMDS_DATA_URL=http://169.254.169.254/latest", "SYSTEMD_IMDS_ADDRESS_IPV4=169.254.169.254"}
	if _, errOut, code = run(t, env, "--root="+root, "--setup-network"); code != 0 {
		t.Fatalf("--setup-network: %d\n%s", code, errOut)
	}
	b, err := os.ReadFile(filepath.Join(root, "run/systemd/network/85-imds-early.network"))
	if err != nil || strings.Contains(string(b), "Type=prohibit") || !strings.Contains(string(b), "FirewallMark=0x7FFF0815") {
		t.Errorf("network file (unlocked): %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(root, "run/systemd/resolve/static.d/imds-endpoint.rr")); err != nil {
		t.Error(err)
	}
	env = append(env, "SYSTEMD_PROC_CMDLINE=systemd.imds.network=locked")
	run(t, env, "--root="+root, "--setup-network")
	if b, _ = os.ReadFile(filepath.Join(root, "run/systemd/network/85-imds-early.network")); !strings.Contains(string(b), "Type=prohibit") {
		t.Errorf("network file (locked):\n%s", b)
	}
}
