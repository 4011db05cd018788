package imds

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRealImdsdExecFallback builds the real imdsd and lets the client run it over a socket
// pair (no socket under the root), against a fake metadata server on loopback.
func TestRealImdsdExecFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds imdsd")
	}
	if os.Geteuid() != 0 {
		t.Skip("imdsd binds its requests to lo (SO_BINDTODEVICE), which needs root")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "imdsd")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/stead-os/stead/cmd/imdsd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build imdsd: %v\n%s", err, out)
	}
	// Only loopback: never let the daemon look at the host's real interfaces.
	wrapper := filepath.Join(dir, "imdsd-lo")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+bin+" -i lo --fwmark= \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"/hostname": "realhost", "/userdata": `{"systemd.credentials":[{"name":"c1","text":"v1"}]}`}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := values[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(v))
	}))
	defer srv.Close()
	t.Setenv("SYSTEMD_IMDS_VENDOR", "test")
	t.Setenv("SYSTEMD_IMDS_DATA_URL", srv.URL)
	t.Setenv("SYSTEMD_IMDS_KEY_HOSTNAME", "/hostname")
	t.Setenv("SYSTEMD_IMDS_KEY_USERDATA", "/userdata")
	root := t.TempDir()
	o := Options{Root: root, ImdsdPath: wrapper}

	o.Action, o.WellKnown = Lookup, "hostname"
	if out, err := runOpts(t, o); err != nil || out != "realhost" {
		t.Fatalf("hostname: %q %v", out, err)
	}
	o.WellKnown, o.Key = "", "/nothing"
	if _, err := runOpts(t, o); err == nil {
		t.Fatal("missing key found")
	}
	o.Key = ""
	o.Action = Summary
	if out, err := runOpts(t, o); err != nil || out !=
		"             Vendor: test\n           Hostname: realhost\n" {
		t.Fatalf("summary: %q %v", out, err)
	}
	o.Action = Import
	if _, err := runOpts(t, o); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"firstboot.hostname": "realhost", "c1": "v1"} {
		if got, mode := readFile(t, filepath.Join(root, CredstoreDir, name)); got != want || mode.Perm() != 0o400 {
			t.Errorf("%s: %q %v", name, got, mode)
		}
	}
}
