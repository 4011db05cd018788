package sysupdate

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTransfers(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/os-release"), "ID=x\nIMAGE_VERSION=7\n")
	writeFile(t, filepath.Join(root, "usr/lib/sysupdate.d/50-a.transfer"), `[Transfer]
ProtectVersion=%A 3
MinVersion=2
Bogus=1
[Source]
Type=url-file
Path=https://example.invalid/dir/
MatchPattern=a_@v.raw.xz a_@v.raw
[Target]
Type=partition
Path=/dev/vdz
MatchPattern=a_@v
MatchPartitionType=root
PartitionFlags=0x10
PartitionNoAuto=yes
InstancesMax=3
[Strange]
X=1
`)
	// /etc masks /usr/lib of the same name; a drop-in changes a key.
	writeFile(t, filepath.Join(root, "usr/lib/sysupdate.d/60-b.transfer"), "garbage")
	if err := os.Symlink("/dev/null", filepath.Join(root, "usr/lib/sysupdate.d/70-masked.transfer")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "etc/sysupdate.d/60-b.transfer"), `[Source]
Type=regular-file
Path=/srv
MatchPattern=b_@v
[Target]
Type=regular-file
Path=/opt
MatchPattern=b_@v
`)
	writeFile(t, filepath.Join(root, "etc/sysupdate.d/60-b.transfer.d/x.conf"), "[Target]\nInstancesMax=5\n")
	var warns []string
	env := &Env{Root: root, Spec: NewSpecifiers(root), Warn: func(err error) { warns = append(warns, err.Error()) }}
	ts, err := env.LoadTransfers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].ID != "50-a" || ts[1].ID != "60-b" {
		t.Fatalf("transfers %v", ts)
	}
	a, b := ts[0], ts[1]
	if strings.Join(a.ProtectVersions, ",") != "7,3" || a.MinVersion != "2" || a.InstancesMax != 3 || !a.Verify {
		t.Errorf("a: %+v", a)
	}
	if a.Source.Path != "https://example.invalid/dir" || len(a.Source.Patterns) != 2 || a.Target.Path != "/dev/vdz" {
		t.Errorf("a paths: %q %q", a.Source.Path, a.Target.Path)
	}
	if *a.PartitionFlags != 0x10 || !*a.NoAuto || a.Target.PartitionTypeName != "root" {
		t.Errorf("a target settings: %+v", a)
	}
	if b.InstancesMax != 5 || b.Source.Path != filepath.Join(root, "srv") || b.Target.Path != filepath.Join(root, "opt") {
		t.Errorf("b: %+v", b)
	}
	joined := strings.Join(warns, "\n")
	for _, want := range []string{"50-a.transfer:4: Bogus: unknown key in [Transfer]", "50-a.transfer:17: unknown section [Strange]"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q lack %q", joined, want)
		}
	}
}

func TestLoadTransfersErrors(t *testing.T) {
	for name, body := range map[string]string{
		"no @v":          "[Source]\nType=regular-file\nPath=/s\nMatchPattern=a\n[Target]\nType=regular-file\nPath=/t\nMatchPattern=a_@v\n",
		"bad combo":      "[Source]\nType=url-tar\nPath=http://x/\nMatchPattern=a_@v\n[Target]\nType=partition\nPath=/dev/x\nMatchPattern=a_@v\n",
		"InstancesMax=1": "[Source]\nType=regular-file\nPath=/s\nMatchPattern=a_@v\n[Target]\nType=regular-file\nPath=/t\nMatchPattern=a_@v\nInstancesMax=1\n",
		"no target":      "[Source]\nType=regular-file\nPath=/s\nMatchPattern=a_@v\n",
		"bad type":       "[Source]\nType=regular-file\nPath=/s\nMatchPattern=a_@v\n[Target]\nType=partition\nPath=/dev/x\nMatchPattern=a_@v\nMatchPartitionType=nonsense\n",
		"relative path":  "[Source]\nType=regular-file\nPath=s\nMatchPattern=a_@v\n[Target]\nType=regular-file\nPath=/t\nMatchPattern=a_@v\n",
		"unknown spec":   "[Source]\nType=regular-file\nPath=/s\nMatchPattern=a_@v%Q\n[Target]\nType=regular-file\nPath=/t\nMatchPattern=a_@v\n",
	} {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "etc/sysupdate.d/x.transfer"), body)
		env := &Env{Root: root, Spec: NewSpecifiers(root)}
		if _, err := env.LoadTransfers(); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "x.transfer") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
}

// TestInstallJournal installs through a journal, stops after each step in turn, and checks
// that finishing the journal always ends with the new version in place and the old one gone.
func TestInstallJournal(t *testing.T) {
	for stop := 0; stop <= 3; stop++ {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "srv/a_2"), "two")
		writeFile(t, filepath.Join(root, "opt/a_1"), "one")
		writeFile(t, filepath.Join(root, "opt/a_0"), "zero")
		writeFile(t, filepath.Join(root, "etc/sysupdate.d/a.transfer"), "[Source]\nType=regular-file\nPath=/srv\nMatchPattern=a_@v\n[Target]\nType=regular-file\nPath=/opt\nMatchPattern=a_@v\nCurrentSymlink=a\n")
		c, err := NewContext(Options{Root: root, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := c.Discover(ctx, true); err != nil {
			t.Fatal(err)
		}
		us := c.Candidate()
		if us == nil || us.Version != "2" {
			t.Fatalf("candidate %+v", us)
		}
		if err := c.stage(ctx, c.Transfers[0], us.Sources[0]); err != nil {
			t.Fatal(err)
		}
		j, _, err := c.plan(us)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.writeJournal(j); err != nil {
			t.Fatal(err)
		}
		// Carry out the first stop steps, as a killed run would have.
		for i := 0; i < stop && i < len(j.Steps); i++ {
			if err := c.do(j.Steps[i]); err != nil {
				t.Fatal(err)
			}
		}
		v, err := c.Resume()
		if err != nil || v != "2" {
			t.Fatalf("stop %d: Resume = %q, %v", stop, v, err)
		}
		ents, _ := os.ReadDir(filepath.Join(root, "opt"))
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if strings.Join(names, " ") != "a a_1 a_2" {
			t.Errorf("stop %d: /opt holds %v", stop, names)
		}
		if _, err := os.Stat(c.journalPath()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stop %d: journal left: %v", stop, err)
		}
	}
}
