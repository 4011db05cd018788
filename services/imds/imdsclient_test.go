package imds

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdpcrextend"
)

func fullFake() *fakeIMDS {
	return &fakeIMDS{vendor: "test", values: map[string]string{
		"hostname":    "myhost",
		"region":      "eu-1",
		"zone":        "eu-1a",
		"ipv4_public": "203.0.113.5",
		"ipv6_public": "2001:db8::5",
		"ssh_key":     "ssh-ed25519 AAAA user@x\n",
		"base/a/b":    "nested",
		"userdata": "#systemd-userdata\n" + `{"systemd.credentials":[{"name":"acredtest","text":"avalue"},` +
			`{"name":"bdata","data":"aGVsbG8K"},{"name":"cenc","encrypted":"ZW5jcnlwdGVk"}]}`,
	}}
}

func TestFormatSummary(t *testing.T) {
	f := SummaryFields()
	f[0].Value, f[0].Present = "amazon-ec2", true
	f[3].Value, f[3].Present = "eu-1a", true
	f[4].Value, f[4].Present = "1.2.3.4", true
	want := "             Vendor: amazon-ec2\n               Zone: eu-1a\nPublic IPv4 Address: 1.2.3.4\n"
	if got := FormatSummary(f); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSummary(t *testing.T) {
	f := fullFake()
	f.mu.Lock()
	delete(f.values, "region")
	f.mu.Unlock()
	root := startFake(t, f)
	out, err := runOpts(t, Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	want := `             Vendor: test
           Hostname: myhost
               Zone: eu-1a
Public IPv4 Address: 203.0.113.5
Public IPv6 Address: 2001:db8::5
`
	if out != want {
		t.Errorf("got\n%s", out)
	}
	out, err = runOpts(t, Options{Root: root, JSON: "short"})
	if err != nil || out != `{"hostname":"myhost","ipv4Public":"203.0.113.5","ipv6Public":"2001:db8::5","vendor":"test","zone":"eu-1a"}`+"\n" {
		t.Errorf("json: %q %v", out, err)
	}
}

func TestLookups(t *testing.T) {
	root := startFake(t, fullFake())
	for _, tc := range []struct {
		wk, key, want string
		absent        bool
		bad           bool
	}{
		{wk: "hostname", want: "myhost"},
		{wk: "ipv4-public", want: "203.0.113.5"},
		{wk: "ipv4_public", want: "203.0.113.5"},
		{key: "/a/b", want: "nested"},
		{wk: "base", key: "/a/b", want: "nested"},
		{key: "/missing", absent: true},
		{wk: "userdata-base64", absent: true},
		{wk: "region", key: "/x", bad: true},
		{wk: "nope", bad: true},
		{key: "relative", bad: true},
	} {
		out, err := runOpts(t, Options{Root: root, Action: Lookup, WellKnown: tc.wk, Key: tc.key})
		var ee *ExitError
		switch {
		case tc.bad:
			if err == nil {
				t.Errorf("%+v: accepted", tc)
			}
		case tc.absent:
			if !errors.As(err, &ee) || ee.Code != ExitFailure {
				t.Errorf("%+v: %v", tc, err)
			}
		case err != nil || out != tc.want:
			t.Errorf("%+v: %q %v", tc, out, err)
		}
	}
	out, err := runOpts(t, Options{Root: root, Action: Lookup, WellKnown: "hostname", JSON: "short"})
	if err != nil || out != `{"text":"myhost"}`+"\n" {
		t.Errorf("json lookup %q %v", out, err)
	}
}

func TestUserdataOrder(t *testing.T) {
	f := &fakeIMDS{values: map[string]string{
		"userdata_base/systemd-userdata": "first",
		"userdata":                       "second",
		"userdata_base64":                base64.StdEncoding.EncodeToString([]byte("third")),
	}}
	root := startFake(t, f)
	for _, want := range []string{"first", "second", "third"} {
		out, err := runOpts(t, Options{Root: root, Action: Userdata})
		if err != nil || out != want {
			t.Fatalf("got %q %v, want %q", out, err, want)
		}
		switch want {
		case "first":
			f.mu.Lock()
			delete(f.values, "userdata_base/systemd-userdata")
			f.mu.Unlock()
		case "second":
			f.mu.Lock()
			delete(f.values, "userdata")
			f.mu.Unlock()
		}
	}
	f.mu.Lock()
	delete(f.values, "userdata_base64")
	f.mu.Unlock()
	if _, err := runOpts(t, Options{Root: root, Action: Userdata}); err == nil {
		t.Error("no user data: no error")
	}
}

func TestNotSupported(t *testing.T) {
	root := startFake(t, &fakeIMDS{notSupported: true})
	_, err := runOpts(t, Options{Root: root, Action: Import})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitNotConfigured {
		t.Errorf("got %v", err)
	}
	_, err = runOpts(t, Options{Root: root, Action: Lookup, WellKnown: "hostname"})
	if !errors.As(err, &ee) || ee.Code != ExitFailure {
		t.Errorf("lookup: got %v", err)
	}
}

func readFile(t *testing.T, p string) (string, os.FileMode) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	return string(b), st.Mode()
}

func TestImport(t *testing.T) {
	f := fullFake()
	root := startFake(t, f)
	pcr := &fakePCR{}
	serve(t, root, PCRExtendSocket, iosystemdpcrextend.VarlinkNew(pcr))
	// An existing credential is never replaced.
	os.MkdirAll(filepath.Join(root, CredstoreDir), 0o755)
	os.WriteFile(filepath.Join(root, CredstoreDir, "bdata"), []byte("keep"), 0o600)
	if _, err := runOpts(t, Options{Root: root, Action: Import}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]struct {
		content string
		mode    os.FileMode
	}{
		CredstoreDir + "/firstboot.hostname":       {"myhost", 0o400},
		CredstoreDir + "/ssh.authorized_keys.root": {"ssh-ed25519 AAAA user@x\n", 0o400},
		CredstoreDir + "/acredtest":                {"avalue", 0o400},
		CredstoreDir + "/bdata":                    {"keep", 0o600},
		CredstoreEncDir + "/cenc":                  {"encrypted", 0o400},
		UserdataCopy:                               {f.values["userdata"], 0o644},
		PublicRRFile: {`[{"key":{"class":1,"type":1,"name":"_public"},"address":[203,0,113,5]},` +
			`{"key":{"class":1,"type":28,"name":"_public"},"address":[32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,5]}]` + "\n", 0o644},
	} {
		got, mode := readFile(t, filepath.Join(root, name))
		if got != want.content || mode.Perm() != want.mode {
			t.Errorf("%s: %q %v, want %q %v", name, got, mode, want.content, want.mode)
		}
	}
	for _, d := range []string{CredstoreDir, CredstoreEncDir} {
		if _, mode := readFile(t, filepath.Join(root, d)); mode.Perm() != 0o700 {
			t.Errorf("%s: mode %v", d, mode)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(root, CredstoreDir))
	if len(ents) != 4 {
		t.Errorf("credstore holds %d files", len(ents))
	}
	// The measurement came first, with upstream's parameters.
	pcr.mu.Lock()
	calls := append([]pcrCall(nil), pcr.calls...)
	pcr.mu.Unlock()
	if len(calls) != 1 {
		t.Fatalf("PCR calls: %+v", calls)
	}
	c := calls[0]
	if c.PCR != 12 || c.EventType != "imds_userdata" || c.Text != MeasureText([]byte(f.values["userdata"])) ||
		!strings.HasPrefix(c.Text, "imds-userdata:") {
		t.Errorf("PCR call %+v", c)
	}
	// Second run: nothing is replaced, even after the values change.
	f.mu.Lock()
	f.values["hostname"] = "other"
	f.mu.Unlock()
	if _, err := runOpts(t, Options{Root: root, Action: Import}); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFile(t, filepath.Join(root, CredstoreDir, "firstboot.hostname")); got != "myhost" {
		t.Errorf("hostname replaced: %q", got)
	}
	// No user data: the copy goes away; no addresses: the record file goes away.
	f.mu.Lock()
	delete(f.values, "userdata")
	f.mu.Unlock()
	f.mu.Lock()
	delete(f.values, "ipv4_public")
	f.mu.Unlock()
	f.mu.Lock()
	delete(f.values, "ipv6_public")
	f.mu.Unlock()
	if _, err := runOpts(t, Options{Root: root, Action: Import}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{UserdataCopy, PublicRRFile} {
		if _, err := os.Stat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
}

func TestImportWithoutPCRExtendAndNUL(t *testing.T) {
	f := &fakeIMDS{values: map[string]string{"userdata": "{\"systemd.credentials\":[{\"name\":\"x\",\"text\":\"a\x00\"}]}"}}
	root := startFake(t, f)
	if _, err := runOpts(t, Options{Root: root, Action: Import}); err != nil {
		t.Fatal(err) // not processed, but not a failure (as upstream)
	}
	if _, err := os.Stat(filepath.Join(root, CredstoreDir, "x")); err == nil {
		t.Error("credential written")
	}
	if got, _ := readFile(t, filepath.Join(root, UserdataCopy)); got != f.values["userdata"] {
		t.Error("pristine copy not kept")
	}
	// Not for systemd: kept, not processed.
	f.mu.Lock()
	f.values["userdata"] = "#cloud-config\n{\"systemd.credentials\":[{\"name\":\"y\",\"text\":\"a\"}]}"
	f.mu.Unlock()
	if _, err := runOpts(t, Options{Root: root, Action: Import}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, CredstoreDir, "y")); err == nil {
		t.Error("unmarked user data processed")
	}
	// Invalid entries: the valid ones are imported, the run fails (as upstream's).
	f.mu.Lock()
	f.values["userdata"] = `{"systemd.credentials":[{"name":"..","text":"a"},{"name":"good","text":"g"}]}`
	f.mu.Unlock()
	_, err := runOpts(t, Options{Root: root, Action: Import})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitFailure {
		t.Errorf("invalid entry: %v", err)
	}
	if got, _ := readFile(t, filepath.Join(root, CredstoreDir, "good")); got != "g" {
		t.Errorf("valid entry not imported: %q", got)
	}
}

func TestMeasureText(t *testing.T) {
	long := strings.Repeat("x", 300)
	got := MeasureText([]byte(long))
	parts := strings.Split(got, ":")
	if len(parts) != 3 || len(parts[1]) != 64 || parts[2] != base64.StdEncoding.EncodeToString([]byte(long[:256])) {
		t.Errorf("got %q", got)
	}
}

func TestWriteCredentialRefusesBadNames(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"", ".", "..", "a/b", "../x"} {
		if _, err := writeCredential(dir, n, []byte("x")); err == nil {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestRefreshAndCachePassed(t *testing.T) {
	f := fullFake()
	root := startFake(t, f)
	no := false
	if _, err := runOpts(t, Options{Root: root, Action: Lookup, WellKnown: "zone", Refresh: 90 * time.Second, Cache: &no}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastRefresh == nil || *f.lastRefresh != 90_000_000 || f.lastCache == nil || *f.lastCache {
		t.Errorf("refresh %v cache %v", f.lastRefresh, f.lastCache)
	}
}
