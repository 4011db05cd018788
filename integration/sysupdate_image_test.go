//go:build integration

package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/gpt"
	"github.com/stead-os/stead/services/sysupdate/fetch/fetchtest"
)

// TestSysupdateImage: `sysupdate --image=IMG update` on a GPT disk image holding an ext4 root
// partition (of this architecture's root type, with the definitions, os-release and the
// file target inside) and two empty linux-generic slots, against a loopback server. The
// partition payload lands in a slot of the image (Path=auto), the file in the image's root
// file system; afterwards no loop device of the image is left and nothing stays mounted, also
// when the run is killed midway (the retry finishes the update).
func TestSysupdateImage(t *testing.T) {
	harness.NeedRoot(t, "sysupdate --image= attaches a loop device and mounts")
	sfdisk := harness.NeedCommand(t, "sfdisk", "fdisk")
	mkfs := harness.NeedCommand(t, "mkfs.ext4", "e2fsprogs")
	losetup := harness.NeedCommand(t, "losetup", "mount")
	bin := harness.Binary(t, "./cmd/sysupdate")
	web := t.TempDir()
	srv := fetchtest.New(t, web)
	dir := t.TempDir()

	// The root file system's content.
	tree := filepath.Join(dir, "tree")
	harness.WriteFile(t, filepath.Join(tree, "etc/os-release"), "ID=steadtest\nIMAGE_VERSION=1\n", 0o644)
	harness.WriteFile(t, filepath.Join(tree, "opt/app/app_1.raw"), "app 1", 0o644)
	harness.WriteFile(t, filepath.Join(tree, "etc/sysupdate.d/10-part.transfer"), `[Transfer]
Verify=no
[Source]
Type=url-file
Path=`+srv.URL()+`
MatchPattern=part_@v.img
[Target]
Type=partition
Path=auto
MatchPattern=part_@v
MatchPartitionType=linux-generic
`, 0o644)
	harness.WriteFile(t, filepath.Join(tree, "etc/sysupdate.d/20-app.transfer"), `[Transfer]
Verify=no
ProtectVersion=%A
[Source]
Type=url-file
Path=`+srv.URL()+`
MatchPattern=app_@v.raw
[Target]
Type=regular-file
Path=/opt/app
MatchPattern=app_@v.raw
InstancesMax=2
`, 0o644)
	fsImg := filepath.Join(dir, "root.ext4")
	if out, err := exec.Command(mkfs, "-q", "-F", "-L", "root", "-d", tree, fsImg, "32M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}

	// The disk: root partition, two empty slots.
	rootType, _ := gpt.TypeByName("root")
	img := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(img, 44<<20)
	cmd := exec.Command(sfdisk, "--quiet", img)
	cmd.Stdin = strings.NewReader(fmt.Sprintf("label: gpt\nsize=32MiB, type=%s, name=root\n"+
		"size=4MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=_empty\n"+
		"size=4MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=_empty\n", strings.ToUpper(rootType.String())))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v: %s", err, out)
	}
	tab, err := gpt.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	fsData, err := os.ReadFile(fsImg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(fsData, tab.Partitions[0].Offset(tab.SectorSize)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// The server: versions 2 and 3.
	payloads := map[string][]byte{}
	publish := func(v string) {
		rng := rand.New(rand.NewPCG(uint64(v[0]), 7))
		part := make([]byte, 3<<20)
		for i := range part {
			part[i] = byte(rng.Uint32())
		}
		payloads["part_"+v] = part
		payloads["app_"+v] = []byte("app " + v)
		var sums strings.Builder
		for name, data := range payloads {
			ext := ".raw"
			if strings.HasPrefix(name, "part_") {
				ext = ".img"
			}
			os.WriteFile(filepath.Join(web, name+ext), data, 0o644)
			h := sha256.Sum256(data)
			fmt.Fprintf(&sums, "%s *%s%s\n", hex.EncodeToString(h[:]), name, ext)
		}
		os.WriteFile(filepath.Join(web, "SHA256SUMS"), []byte(sums.String()), 0o644)
	}
	publish("2")

	tmp := t.TempDir() // $TMPDIR of sysupdate: where it makes its mount point
	run := func(env []string, args ...string) (string, string, int) {
		c := exec.Command(bin, append([]string{"--image=" + img}, args...)...)
		c.Env = append(append(os.Environ(), "TMPDIR="+tmp), env...)
		return harness.Run(t, c)
	}
	// leftovers: loop devices of the image and mounts of sysupdate's.
	leftovers := func() string {
		out, _ := exec.Command(losetup, "--associated", img).CombinedOutput()
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		var mounts []string
		for _, l := range strings.Split(string(mi), "\n") {
			if strings.Contains(l, "sysupdate-image-") {
				mounts = append(mounts, l)
			}
		}
		return strings.TrimSpace(string(out)) + strings.Join(mounts, "\n")
	}
	noLeftovers := func(after string) {
		t.Helper()
		harness.Eventually(t, "no loop device or mount left after "+after, 30*time.Second,
			func() bool { return leftovers() == "" }, leftovers)
		if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
			t.Errorf("mount point left after %s: %v", after, ents[0].Name())
		}
	}
	type sfdiskJSON struct {
		PartitionTable struct {
			SectorSize int `json:"sectorsize"`
			Partitions []struct {
				Node  string
				Start int64
				Size  int64
				Type  string
				Name  string
			}
		}
	}
	// check compares the image's partitions (sfdisk --json) and files (mounted) with want.
	check := func(wantLabels []string, wantFiles []string) {
		t.Helper()
		out, err := exec.Command(sfdisk, "--json", img).Output()
		if err != nil {
			t.Fatalf("sfdisk --json: %v", err)
		}
		var st sfdiskJSON
		if err := json.Unmarshal(out, &st); err != nil {
			t.Fatalf("sfdisk --json: %v: %s", err, out)
		}
		var labels []string
		raw, _ := os.ReadFile(img)
		for _, p := range st.PartitionTable.Partitions {
			labels = append(labels, p.Name)
			if v, ok := strings.CutPrefix(p.Name, "part_"); ok {
				ss := int64(st.PartitionTable.SectorSize)
				want := payloads["part_"+v]
				if got := raw[p.Start*ss : p.Start*ss+int64(len(want))]; !bytes.Equal(got, want) {
					t.Errorf("partition %s (%s) does not hold the payload of version %s", p.Node, p.Name, v)
				}
			}
		}
		if strings.Join(labels, " ") != strings.Join(wantLabels, " ") {
			t.Errorf("partition labels %v, want %v", labels, wantLabels)
		}
		// The root partition, mounted through a loop device of its own (the kernel may lack
		// the GPT parser that would give the disk's loop device partitions).
		root := st.PartitionTable.Partitions[0]
		ss := int64(st.PartitionTable.SectorSize)
		mnt := t.TempDir()
		if out, err := exec.Command("mount", "-o", fmt.Sprintf("ro,loop,offset=%d,sizelimit=%d", root.Start*ss, root.Size*ss), img, mnt).CombinedOutput(); err != nil {
			t.Fatalf("mount: %v: %s", err, out)
		}
		defer exec.Command("umount", mnt).Run()
		ents, _ := os.ReadDir(filepath.Join(mnt, "opt/app"))
		var files []string
		for _, e := range ents {
			files = append(files, e.Name())
			if v, ok := strings.CutPrefix(e.Name(), "app_"); ok {
				v = strings.TrimSuffix(v, ".raw")
				if b, _ := os.ReadFile(filepath.Join(mnt, "opt/app", e.Name())); string(b) != "app "+v {
					t.Errorf("%s: %q", e.Name(), b)
				}
			}
		}
		if strings.Join(files, " ") != strings.Join(wantFiles, " ") {
			t.Errorf("/opt/app of the image: %v, want %v", files, wantFiles)
		}
	}

	if out, errOut, code := run(nil, "update"); code != 0 {
		t.Fatalf("update: exit %d\n%s%s", code, out, errOut)
	}
	noLeftovers("update to 2")
	check([]string{"root", "part_2", "_empty"}, []string{"app_1.raw", "app_2.raw"})
	out, errOut, code := run(nil, "--json=short", "list")
	if code != 0 || !strings.Contains(out, `"current":"2"`) {
		t.Errorf("list: exit %d: %s%s", code, out, errOut)
	}
	noLeftovers("list")

	// Version 3, killed after staging: nothing left attached or mounted; the retry finishes.
	publish("3")
	if _, errOut, code := run([]string{"STEAD_SYSUPDATE_KILL_AT=after-stage"}, "update"); code == 0 {
		t.Fatalf("update with a kill after staging succeeded: %s", errOut)
	}
	noLeftovers("a kill")
	if out, errOut, code := run(nil, "update"); code != 0 {
		t.Fatalf("update after the kill: exit %d\n%s%s", code, out, errOut)
	}
	noLeftovers("update to 3")
	// app_1 is the booted version (ProtectVersion=%A): app_2 made room.
	check([]string{"root", "part_2", "part_3"}, []string{"app_1.raw", "app_3.raw"})
	if n := srv.BytesServed("part_3.img"); n != 3<<20 {
		t.Errorf("part_3.img: %d bytes served, want one download (the staged one reused)", n)
	}
}
