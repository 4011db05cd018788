package fstabgen

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	var warned []int
	es, err := Parse(strings.NewReader("# c\n\n/dev/a /x ext4 ro 0 2\nLABEL=a\\040b /y\\011z auto\n/bad\n"),
		func(line int, msg string) { warned = append(warned, line) })
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].PassNo != 2 || es[0].Options != "ro" || es[1].Spec != "LABEL=a b" || es[1].File != "/y\tz" || es[1].Options != "defaults" {
		t.Fatalf("entries %+v", es)
	}
	if len(warned) != 1 || warned[0] != 5 {
		t.Errorf("warnings at lines %v, want [5]", warned)
	}
}

func TestOptions(t *testing.T) {
	o := splitOptions("defaults,x-systemd.requires=a.service,x-systemd.requires=b.service c.service,nofail,x-systemd.device-timeout=3")
	if got := o.all("x-systemd.requires"); strings.Join(got, " ") != "a.service b.service c.service" {
		t.Errorf("all = %v", got)
	}
	if !o.has("nofail") || o.has("noauto") {
		t.Error("has")
	}
	if got := splitOptions("defaults,x-systemd.device-timeout=3").without("x-systemd.device-timeout").String(); got != "" {
		t.Errorf("defaults alone should be empty, got %q", got)
	}
}

func TestNodeToUdev(t *testing.T) {
	for in, want := range map[string]string{
		"UUID=1234-AB":   "/dev/disk/by-uuid/1234-AB",
		"LABEL=my disk":  `/dev/disk/by-label/my\x20disk`,
		"LABEL=a/b":      `/dev/disk/by-label/a\x2fb`,
		"PARTLABEL=p1":   "/dev/disk/by-partlabel/p1",
		"/dev/vdb1":      "/dev/vdb1",
		"server:/export": "server:/export",
	} {
		if got := nodeToUdev(in); got != want {
			t.Errorf("nodeToUdev(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRunDuplicate keeps the first of two entries for one mount point.
func TestRunDuplicate(t *testing.T) {
	dir := t.TempDir()
	fstab := filepath.Join(dir, "fstab")
	if err := os.WriteFile(fstab, []byte("/dev/a /x ext4 ro 0 0\n/dev/b /x ext4 rw 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SYSTEMD_PROC_CMDLINE", "")
	out := filepath.Join(dir, "out")
	if err := Run(Options{Fstab: fstab, Dir: out, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "x.mount"))
	if err != nil || !strings.Contains(string(b), "What=/dev/a") {
		t.Errorf("x.mount: %s %v", b, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("UUID=1 / ext4 defaults 0 1\n# x\n/dev/a\\040 /b\\ none bind,x-systemd.requires=a 0 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		es, err := Parse(strings.NewReader(s), func(int, string) {})
		if err != nil {
			return
		}
		for _, e := range es {
			o := splitOptions(e.Options)
			_ = o.all("x-systemd.requires")
			_ = o.without("x-systemd.device-timeout").String()
			_ = nodeToUdev(e.Spec)
		}
	})
}
