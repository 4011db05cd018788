//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/stead-os/stead/lib/api/iosystemdsysupdate"
	"github.com/stead-os/stead/lib/api/iosystemdsysupdatenotify"
	"github.com/stead-os/stead/lib/gpt"
	"github.com/stead-os/stead/services/sysupdate"
	"github.com/stead-os/stead/services/sysupdate/fetch/fetchtest"
)

// suImage is a two-component image served over HTTP: a partition payload
// (part_V_UUID.img, into a GPT slot of a loop device) and a gzip-compressed file
// (app_V.raw.gz, into /opt/app), with SHA256SUMS signed by a test key.
type suImage struct {
	t        *testing.T
	bin      string
	root     string // the OS tree (--root)
	web      string // what the server serves
	srv      *fetchtest.Server
	key      *openpgp.Entity
	disk     string // the loop device
	partSize int    // bytes of each partition payload
	payloads map[string][]byte
	uuids    map[string]string
}

const suPartSlots = 3

func newSuImage(t *testing.T, partSize int) *suImage {
	t.Helper()
	harness.NeedRoot(t, "sysupdate's partition targets need a loop device")
	sfdisk := harness.NeedCommand(t, "sfdisk", "fdisk")
	losetup := harness.NeedCommand(t, "losetup", "mount")
	im := &suImage{t: t, bin: harness.Binary(t, "./cmd/sysupdate"), root: t.TempDir(), web: t.TempDir(),
		partSize: partSize, payloads: map[string][]byte{}, uuids: map[string]string{}}
	im.srv = fetchtest.New(t, im.web)

	key, err := openpgp.NewEntity("stead test", "", "test@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	im.key = key
	var ring bytes.Buffer
	if err := key.Serialize(&ring); err != nil {
		t.Fatal(err)
	}
	harness.WriteFile(t, filepath.Join(im.root, "etc/systemd/import-pubring.pgp"), ring.String(), 0o644)
	im.setBooted("1")

	// A GPT disk with three linux-generic slots, each big enough for a payload.
	img := filepath.Join(t.TempDir(), "disk.img")
	slotMiB := partSize>>20 + 2
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, int64(suPartSlots*slotMiB+2)<<20); err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("label: gpt\n")
	for i := 0; i < suPartSlots; i++ {
		fmt.Fprintf(&script, "size=%dMiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=_empty\n", slotMiB)
	}
	cmd := exec.Command(sfdisk, "--quiet", img)
	cmd.Stdin = strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v: %s", err, out)
	}
	out, err := exec.Command(losetup, "--find", "--show", "--partscan", img).CombinedOutput()
	if err != nil {
		harness.Require(t, fmt.Sprintf("losetup: %v: %s", err, out))
	}
	im.disk = strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command(losetup, "--detach", im.disk).Run() })

	im.define("10-part.transfer", fmt.Sprintf(`[Transfer]
ProtectVersion=%%A

[Source]
Type=url-file
Path=%s/
MatchPattern=part_@v_@u.img

[Target]
Type=partition
Path=%s
MatchPattern=part_@v
MatchPartitionType=linux-generic
ReadOnly=yes
InstancesMax=2
`, im.srv.URL(), im.disk))
	im.define("20-app.transfer", fmt.Sprintf(`[Transfer]
ProtectVersion=%%A

[Source]
Type=url-file
Path=%s
MatchPattern=app_@v.raw.gz

[Target]
Type=regular-file
Path=/opt/app
MatchPattern=app_@v.raw
Mode=0640
InstancesMax=2
CurrentSymlink=app.raw
`, im.srv.URL()))
	return im
}

func (im *suImage) define(name, content string) {
	harness.WriteFile(im.t, filepath.Join(im.root, "etc/sysupdate.d", name), content, 0o644)
}

// setBooted writes os-release with IMAGE_VERSION=v: what %A (ProtectVersion=) and pending see.
func (im *suImage) setBooted(v string) {
	harness.WriteFile(im.t, filepath.Join(im.root, "etc/os-release"), "ID=steadtest\nIMAGE_VERSION="+v+"\n", 0o644)
}

// publish adds version v to the server and re-signs SHA256SUMS.
func (im *suImage) publish(v string) {
	rng := rand.New(rand.NewPCG(uint64(len(v)), uint64(v[0])))
	part := make([]byte, im.partSize)
	for i := range part {
		part[i] = byte(rng.Uint32())
	}
	app := []byte(strings.Repeat("app version "+v+"\n", 1000))
	im.payloads["part_"+v], im.payloads["app_"+v] = part, app
	u := fmt.Sprintf("%08x-1111-4222-8333-%012x", rng.Uint32(), rng.Uint64()&0xffffffffffff)
	im.uuids[v] = u
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(app)
	w.Close()
	im.write(fmt.Sprintf("part_%s_%s.img", v, u), part)
	im.write("app_"+v+".raw.gz", gz.Bytes())
	im.sign(im.key)
}

func (im *suImage) write(name string, data []byte) {
	if err := os.WriteFile(filepath.Join(im.web, name), data, 0o644); err != nil {
		im.t.Fatal(err)
	}
}

// sign rewrites SHA256SUMS over every payload served and its detached signature by k.
func (im *suImage) sign(k *openpgp.Entity) {
	t := im.t
	ents, err := os.ReadDir(im.web)
	if err != nil {
		t.Fatal(err)
	}
	var sums strings.Builder
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "SHA256SUMS") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(im.web, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		fmt.Fprintf(&sums, "%s *%s\n", hex.EncodeToString(h[:]), e.Name())
	}
	im.write("SHA256SUMS", []byte(sums.String()))
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, k, strings.NewReader(sums.String()), nil); err != nil {
		t.Fatal(err)
	}
	im.write("SHA256SUMS.gpg", sig.Bytes())
}

// run runs our sysupdate on the image's root with extra environment.
func (im *suImage) run(env []string, args ...string) (string, string, int) {
	cmd := exec.Command(im.bin, append([]string{"--root=" + im.root}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return harness.Run(im.t, cmd)
}

func (im *suImage) mustRun(args ...string) string {
	im.t.Helper()
	out, errOut, code := im.run(nil, args...)
	if code != 0 {
		im.t.Fatalf("sysupdate %v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// suState is what an observer of the system sees: the files under /opt/app (hidden ones
// included), the partition labels, and what `list` calls current.
type suState struct {
	Files   []string
	Labels  []string
	Current string
}

func (im *suImage) state() suState {
	t := im.t
	var s suState
	ents, _ := os.ReadDir(filepath.Join(im.root, "opt/app"))
	for _, e := range ents {
		s.Files = append(s.Files, e.Name())
	}
	tab, err := gpt.ReadFile(im.disk)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tab.Partitions {
		s.Labels = append(s.Labels, p.Label)
	}
	out, errOut, code := im.run(nil, "--offline", "--json=short", "list")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	var l struct{ Current *string }
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("list JSON %q: %v", out, err)
	}
	if l.Current != nil {
		s.Current = *l.Current
	}
	return s
}

// installed returns the versions installed completely (partition and file) and checks each
// one's content: the file's bytes and mode, the partition's bytes, UUID and read-only flag.
func (im *suImage) installed() []string {
	t := im.t
	tab, err := gpt.ReadFile(im.disk)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(im.disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []string
	for _, p := range tab.Partitions {
		v, ok := strings.CutPrefix(p.Label, "part_")
		if !ok {
			continue
		}
		app := filepath.Join(im.root, "opt/app", "app_"+v+".raw")
		if _, err := os.Stat(app); err != nil {
			continue // not complete: the file of this version is missing
		}
		buf := make([]byte, im.partSize)
		if _, err := f.ReadAt(buf, p.Offset(tab.SectorSize)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, im.payloads["part_"+v]) {
			t.Errorf("partition %d (%s) does not hold version %s's payload", p.Index, p.Label, v)
		}
		if p.UUID.String() != im.uuids[v] {
			t.Errorf("partition %d UUID %s, want %s (from the source name)", p.Index, p.UUID, im.uuids[v])
		}
		if p.Flags&gpt.ReadOnlyFlag == 0 {
			t.Errorf("partition %d: ReadOnly=yes flag missing (flags %#x)", p.Index, p.Flags)
		}
		b, err := os.ReadFile(app)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, im.payloads["app_"+v]) {
			t.Errorf("%s: wrong content", app)
		}
		if st, _ := os.Stat(app); st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640 (Mode=)", app, st.Mode().Perm())
		}
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

// TestSysupdateUpdate: 1 → 2 → 3 on a loop-device GPT disk and a temp root, InstancesMax=2
// with the booted version protected, vacuum, pending, and refused updates (bad signature,
// wrong hash) that change nothing.
func TestSysupdateUpdate(t *testing.T) {
	im := newSuImage(t, 1<<20)
	heard := &suNotifyListener{}
	apitest.Serve(t, filepath.Join(im.root, iosystemdsysupdatenotify.NotifyDir, "test"), iosystemdsysupdatenotify.VarlinkNew(heard))
	im.publish("1")
	if out := im.mustRun("check-new"); strings.TrimSpace(out) != "1" {
		t.Fatalf("check-new = %q, want 1", out)
	}
	im.mustRun("update")
	if got := im.installed(); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("installed %v after the first update", got)
	}
	if l, _ := os.Readlink(filepath.Join(im.root, "opt/app/app.raw")); l != "app_1.raw" {
		t.Errorf("CurrentSymlink points at %q", l)
	}
	want := fmt.Sprintf("version=1 10-part=%s:1 20-app=%s", im.disk, filepath.Join(im.root, "opt/app/app_1.raw"))
	if got := heard.get(); !slices.Equal(got, []string{want}) {
		t.Errorf("io.systemd.SysUpdate.Notify heard %q, want %q", got, want)
	}

	im.publish("2")
	im.mustRun("update")
	if got := im.installed(); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("installed %v, want [1 2]", got)
	}
	// Booted 1, 2 installed: pending says so.
	if _, errOut, code := im.run(nil, "pending"); code != 0 {
		t.Errorf("pending: exit %d (%s), want 0", code, errOut)
	}
	im.setBooted("2")
	if _, _, code := im.run(nil, "pending"); code == 0 {
		t.Errorf("pending after booting 2: exit 0, want non-zero")
	}

	im.publish("3")
	im.mustRun("update")
	// InstancesMax=2: 1 made room; 2 is booted (ProtectVersion=%A) and stays.
	if got := im.installed(); !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("installed %v, want [2 3]", got)
	}
	st := im.state()
	if st.Current != "3" || !slices.Equal(st.Files, []string{"app.raw", "app_2.raw", "app_3.raw"}) {
		t.Errorf("state %+v", st)
	}
	if n := strings.Count(strings.Join(st.Labels, " "), "_empty"); n != 1 {
		t.Errorf("labels %v: want one _empty slot", st.Labels)
	}
	out, _, code := im.run(nil, "--json=short", "check-new")
	if code == 0 || !strings.Contains(out, `"available":null`) {
		t.Errorf("check-new with nothing newer: %q exit %d", out, code)
	}
	im.mustRun("update") // nothing to do
	// vacuum with one instance: 3 is the newest, 2 protected: nothing goes.
	im.mustRun("-m", "1", "vacuum")
	if got := im.installed(); !slices.Equal(got, []string{"2", "3"}) {
		t.Errorf("vacuum -m 1 left %v, want [2 3] (2 is booted)", got)
	}

	// Version 4 signed by another key: refused before anything is fetched or changed.
	before := im.state()
	im.publish("4")
	other, _ := openpgp.NewEntity("mallory", "", "m@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	im.sign(other)
	if _, errOut, code := im.run(nil, "update"); code == 0 || !strings.Contains(errOut, "signature") {
		t.Errorf("update with a bad signature: exit %d: %s", code, errOut)
	}
	if after := im.state(); !equalState(before, after) {
		t.Errorf("bad signature changed the system: %+v → %+v", before, after)
	}
	// Version 4's file differs from the signed SHA256SUMS: refused, nothing left behind.
	im.sign(im.key)
	im.write("app_4.raw.gz", []byte("tampered"))
	if _, errOut, code := im.run(nil, "update"); code == 0 || !strings.Contains(errOut, "SHA256") {
		t.Errorf("update with a wrong hash: exit %d: %s", code, errOut)
	}
	if after := im.state(); !equalState(before, after) {
		t.Errorf("wrong hash changed the system: %+v → %+v", before, after)
	}
	if got := im.installed(); !slices.Equal(got, []string{"2", "3"}) {
		t.Errorf("after refused updates: %v, want [2 3]", got)
	}
}

// suNotifyListener serves io.systemd.SysUpdate.Notify and records each call.
type suNotifyListener struct {
	mu    sync.Mutex
	calls []string
}

func (l *suNotifyListener) OnCompletedUpdate(ctx context.Context, c iosystemdsysupdatenotify.VarlinkCall, component, version *string, resources *[]iosystemdsysupdatenotify.Resource) error {
	s := "version=" + *version
	if component != nil {
		s += " component=" + *component
	}
	if resources != nil {
		for _, r := range *resources {
			s += " " + r.Transfer + "=" + *r.Path
		}
	}
	l.mu.Lock()
	l.calls = append(l.calls, s)
	l.mu.Unlock()
	return c.ReplyOnCompletedUpdate(ctx)
}

func (l *suNotifyListener) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func equalState(a, b suState) bool {
	return a.Current == b.Current && slices.Equal(a.Files, b.Files) && slices.Equal(a.Labels, b.Labels)
}

// TestSysupdateFaults kills the update at every phase, and has the server drop the
// connection mid-body; after each the system holds exactly the old complete set (list says
// so) and a plain update finishes, resuming the download rather than restarting it.
func TestSysupdateFaults(t *testing.T) {
	const size = 16 << 20
	im := newSuImage(t, size)
	im.publish("1")
	im.mustRun("update")
	im.setBooted("1")

	v := 2
	partName := func() string { return fmt.Sprintf("part_%d_%s.img", v, im.uuids[fmt.Sprint(v)]) }
	check := func(phase string, want []string, current string) {
		t.Helper()
		if got := im.installed(); !slices.Equal(got, want) {
			t.Errorf("%s: installed %v, want %v", phase, got, want)
		}
		if st := im.state(); st.Current != current {
			t.Errorf("%s: list says current %q, want %q", phase, st.Current, current)
		}
		for _, f := range im.state().Files {
			// Hidden names other than sysupdate's resumable downloads and staged payloads
			// would be debris of the interrupted run.
			if strings.HasPrefix(f, ".") && !strings.HasPrefix(f, ".#sysupdate.") {
				t.Errorf("%s: %s left behind", phase, f)
			}
		}
	}
	finish := func(phase string, want []string, resumeFrom int64) {
		t.Helper()
		before := im.srv.BytesServed(partName())
		im.mustRun("update")
		served := im.srv.BytesServed(partName()) - before
		if resumeFrom >= 0 && served != size-resumeFrom {
			t.Errorf("%s: retry fetched %d bytes of the partition payload, want %d (resumed from %d)", phase, served, size-resumeFrom, resumeFrom)
		}
		check(phase+", then update", want, want[len(want)-1])
	}
	stateDir := filepath.Join(im.root, sysupdate.StateDir, "host")
	partialSize := func() int64 {
		st, err := os.Stat(filepath.Join(stateDir, "staged", ".#sysupdate.10-part@"+fmt.Sprint(v)+".download"))
		if err != nil {
			return 0
		}
		return st.Size()
	}
	killed := func(phase string, env ...string) {
		t.Helper()
		_, errOut, code := im.run(env, "update")
		if code != -1 {
			t.Fatalf("%s: update exited %d, want killed: %s", phase, code, errOut)
		}
	}

	// 1. Killed mid-download.
	im.publish("2")
	killed("mid-download", fmt.Sprintf("STEAD_SYSUPDATE_KILL_AFTER_BYTES=%d", size/3))
	check("killed mid-download", []string{"1"}, "1")
	p := partialSize()
	if p == 0 || p >= size {
		t.Fatalf("partial download of %d bytes after the kill", p)
	}
	finish("killed mid-download", []string{"1", "2"}, p)

	// 2. The server drops the connection mid-body.
	v = 3
	im.setBooted("2")
	im.publish("3")
	im.srv.DropAfter(partName(), size/2)
	if _, errOut, code := im.run(nil, "update"); code == 0 {
		t.Fatalf("update over a dropped connection succeeded: %s", errOut)
	}
	check("connection dropped", []string{"1", "2"}, "2")
	p = partialSize()
	if p == 0 {
		t.Fatalf("nothing kept of the dropped download")
	}
	finish("connection dropped", []string{"2", "3"}, p)

	// 3.–6. Killed after the downloads (before any change), after making room, after the
	// partition payload is written, and between the renames of the two components.
	for _, point := range []string{"journal-written", "after-empty-slot", "after-write-slot", "after-label"} {
		v++
		im.setBooted(fmt.Sprint(v - 1))
		im.publish(fmt.Sprint(v))
		killed(point, "STEAD_SYSUPDATE_KILL_AT="+point)
		old := []string{fmt.Sprint(v - 2), fmt.Sprint(v - 1)}
		if point == "after-empty-slot" || point == "after-write-slot" || point == "after-label" {
			// Room was made: the oldest version is gone, the booted one stays.
			old = old[1:]
		}
		check("killed at "+point, old, fmt.Sprint(v-1))
		// Nothing is downloaded again: the staged payloads are used.
		finish("killed at "+point, []string{fmt.Sprint(v - 1), fmt.Sprint(v)}, size)
	}
}

// TestSysupdateCompareVersions checks our version order against upstream's
// `systemd-analyze compare-versions`.
func TestSysupdateCompareVersions(t *testing.T) {
	up := harness.NeedUpstream(t)
	for _, c := range sysupdate.VersionExamples {
		out, errOut, _ := up.Run(t, "systemd-analyze", "compare-versions", c.A, c.B)
		f := strings.Fields(out)
		if len(f) < 3 {
			t.Fatalf("compare-versions %q %q: %q %q", c.A, c.B, out, errOut)
		}
		want := map[string]int{"<": -1, "==": 0, ">": 1}[f[len(f)-2]]
		if got := sysupdate.CompareVersions(c.A, c.B); got != want {
			t.Errorf("%q vs %q: ours %d, upstream %s", c.A, c.B, got, strings.TrimSpace(out))
		}
	}
}

// suUpstream runs upstream's systemd-sysupdate in the upstream root with a private /proc
// (the host's network: its downloads go to the test's loopback server).
func suUpstream(t *testing.T, up *harness.Upstream, args ...string) (string, string, int) {
	t.Helper()
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + a + "'"
	}
	script := "mount -t proc proc '" + up.Dir + "/proc' && exec chroot '" + up.Dir + "' /usr/lib/systemd/systemd-sysupdate " + strings.Join(q, " ")
	cmd := exec.Command("unshare", "-m", "sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat", "LANG=C.UTF-8", "SYSTEMD_LOG_LEVEL=err"}
	return harness.Run(t, cmd)
}

// TestSysupdateInterop: upstream systemd-sysupdate 262 and ours, on the same root,
// definitions and server, print the same `list`, `list VERSION`, `check-new`, `components`
// and `features` JSON: versions 1–3 offered, 1 installed and booted. Then 2 is installed in
// one of the two transfers only, and the answers still agree but for the one documented
// difference: upstream calls the incomplete set 2 current, ours keeps calling 1 current.
func TestSysupdateInterop(t *testing.T) {
	up := harness.NeedUpstream(t)
	bin := harness.Binary(t, "./cmd/sysupdate")
	host, inside := up.Stage(t)
	root := filepath.Join(host, "root")
	web := t.TempDir()
	srv := fetchtest.New(t, web)
	var sums strings.Builder
	for _, v := range []string{"1", "2", "3"} {
		for name, data := range map[string][]byte{"app_" + v + ".raw": []byte("app " + v), "conf_" + v + ".tar": tarOf(t, "conf "+v)} {
			os.WriteFile(filepath.Join(web, name), data, 0o644)
			h := sha256.Sum256(data)
			fmt.Fprintf(&sums, "%s *%s\n", hex.EncodeToString(h[:]), name)
		}
	}
	os.WriteFile(filepath.Join(web, "SHA256SUMS"), []byte(sums.String()), 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/os-release"), "ID=steadtest\nIMAGE_VERSION=1\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/sysupdate.d/10-conf.transfer"), `[Transfer]
ProtectVersion=%A
Verify=no
ChangeLog=https://example.invalid/changes/@v
[Source]
Type=url-tar
Path=`+srv.URL()+`
MatchPattern=conf_@v.tar
[Target]
Type=directory
Path=/var/lib/conf
MatchPattern=conf_@v
`, 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/sysupdate.d/20-app.transfer"), `[Transfer]
ProtectVersion=%A
Verify=no
AppStream=https://example.invalid/app.xml
[Source]
Type=url-file
Path=`+srv.URL()+`/
MatchPattern=app_@v.raw
[Target]
Type=regular-file
Path=/opt/app
MatchPattern=app_@v.raw
InstancesMax=3
`, 0o644)
	harness.WriteFile(t, filepath.Join(root, "opt/app/app_1.raw"), "app 1", 0o644)
	harness.WriteFile(t, filepath.Join(root, "var/lib/conf/conf_1/c"), "conf 1", 0o644)

	compare := func(stage string, knownDiff func(args []string, theirs, ours string) string) {
		cases := [][]string{{"list"}, {"list", "1"}, {"list", "2"}, {"list", "3"}, {"check-new"}, {"components"}, {"features"}}
		for _, args := range cases {
			args = append([]string{"--json=short"}, args...)
			theirs, theirErr, theirCode := suUpstream(t, up, append([]string{"--root=" + filepath.Join(inside, "root")}, args...)...)
			ours, ourErr, ourCode := harness.Run(t, exec.Command(bin, append([]string{"--root=" + root}, args...)...))
			ours = strings.ReplaceAll(ours, up.Dir, "")
			if knownDiff != nil {
				theirs = knownDiff(args, theirs, ours)
			}
			if theirCode != ourCode || !jsonEqual(theirs, ours) {
				t.Errorf("%s: %v:\nupstream (exit %d): %s%s\nours     (exit %d): %s%s", stage, args, theirCode, theirs, theirErr, ourCode, ours, ourErr)
			}
		}
	}
	compare("1 installed", nil)

	harness.WriteFile(t, filepath.Join(root, "var/lib/conf/conf_2/c"), "conf 2", 0o644)
	compare("2 incomplete", func(args []string, theirs, ours string) string {
		if len(args) == 2 && args[1] == "list" {
			if !strings.Contains(theirs, `"current":"2"`) || !strings.Contains(ours, `"current":"1"`) {
				t.Errorf("expected upstream to call the incomplete set 2 current and ours 1: %s / %s", theirs, ours)
			}
			return strings.Replace(theirs, `"current":"2"`, `"current":"1"`, 1)
		}
		return theirs
	})
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func tarOf(t *testing.T, content string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "c", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	return b.Bytes()
}

// TestSysupdateUpstreamVarlinkctl: upstream's varlinkctl introspects our io.systemd.SysUpdate
// (started through exec:, as a connected socket) and gets the same interface as from
// upstream's systemd-sysupdate, and the same answers to ListTargets and CheckNew.
func TestSysupdateUpstreamVarlinkctl(t *testing.T) {
	up := harness.NeedUpstream(t)
	host, inside := up.Stage(t)
	ours := filepath.Join(inside, filepath.Base(harness.CopyIn(t, harness.Binary(t, "./cmd/sysupdate"), host)))
	strip := func(idl string) string {
		var keep []string
		for _, l := range strings.Split(idl, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") && strings.TrimSpace(l) != "" {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	theirs, errOut, code := up.Run(t, "varlinkctl", "introspect", "exec:/usr/lib/systemd/systemd-sysupdate", "io.systemd.SysUpdate")
	if code != 0 {
		t.Fatalf("introspect upstream: exit %d: %s", code, errOut)
	}
	mine, errOut, code := up.Run(t, "varlinkctl", "introspect", "exec:"+ours, "io.systemd.SysUpdate")
	if code != 0 {
		t.Fatalf("varlinkctl introspect ours: exit %d: %s", code, errOut)
	}
	if strip(theirs) != strip(mine) {
		t.Errorf("io.systemd.SysUpdate differs (comments aside):\nupstream:\n%s\nours:\n%s", theirs, mine)
	}
	// The upstream root has no sysupdate.d: no targets, from either.
	theirs, theirErr, theirCode := up.Run(t, "varlinkctl", "--json=short", "call", "exec:/usr/lib/systemd/systemd-sysupdate", "io.systemd.SysUpdate.ListTargets", "{}")
	mine, myErr, myCode := up.Run(t, "varlinkctl", "--json=short", "call", "exec:"+ours, "io.systemd.SysUpdate.ListTargets", "{}")
	if theirCode != myCode || !jsonEqual(theirs, mine) {
		t.Errorf("ListTargets: upstream exit %d %q %q; ours exit %d %q %q", theirCode, theirs, theirErr, myCode, mine, myErr)
	}
	// Upstream's CheckNew asks sysupdated over D-Bus, which a chroot lacks; ours answers an
	// unknown target with the interface's error.
	_, myErr, myCode = up.Run(t, "varlinkctl", "call", "exec:"+ours, "io.systemd.SysUpdate.CheckNew", `{"target":{"class":"component","name":"nope"}}`)
	if myCode == 0 || errorName(myErr) != "io.systemd.SysUpdate.NoSuchTarget" {
		t.Errorf("CheckNew of an unknown target: exit %d, %q", myCode, myErr)
	}
}

// errorName picks the Varlink error name out of varlinkctl's message ("Method call M()
// failed: ERROR").
func errorName(s string) string {
	name := ""
	for _, f := range strings.Fields(s) {
		if (strings.HasPrefix(f, "io.systemd.") || strings.HasPrefix(f, "org.varlink.")) && !strings.HasSuffix(f, "()") {
			name = strings.Trim(f, ".:'\"")
		}
	}
	return name
}

// TestSysupdateVarlink serves io.systemd.SysUpdate on its own socket under a root: the host
// and a component are listed, CheckNew answers the candidate, NoUpdateNeeded once it is
// installed and NoSuchTarget for an unknown component, and ListFeatures the features.
func TestSysupdateVarlink(t *testing.T) {
	bin := harness.Binary(t, "./cmd/sysupdate")
	root := t.TempDir()
	for _, v := range []string{"1", "2"} {
		harness.WriteFile(t, filepath.Join(root, "srv/app_"+v+".img"), "app "+v, 0o644)
	}
	harness.WriteFile(t, filepath.Join(root, "opt/app/app_1.img"), "app 1", 0o644)
	def := `[Transfer]
Features=extra
[Source]
Type=regular-file
Path=/srv
MatchPattern=app_@v.img
[Target]
Type=regular-file
Path=/opt/app
MatchPattern=app_@v.img
`
	harness.WriteFile(t, filepath.Join(root, "usr/lib/sysupdate.d/app.transfer"), def, 0o644)
	harness.WriteFile(t, filepath.Join(root, "usr/lib/sysupdate.d/extra.feature"), "[Feature]\nDescription=Extra bits\nEnabled=yes\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "usr/lib/sysupdate.os.d/app.transfer"), strings.Replace(def, "Features=extra\n", "", 1), 0o644)
	harness.StartDaemon(t, exec.Command(bin, "--varlink", "--root="+root), harness.WaitReady())
	c := iosystemdsysupdate.NewClient(apitest.Dial(t, iosystemdsysupdate.SocketAddress(root)))
	ctx := context.Background()
	targets, err := c.ListTargets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(targets)
	if string(b) != `[{"id":{"class":"host"}},{"id":{"class":"component","name":"os"}}]` {
		t.Errorf("ListTargets = %s", b)
	}
	host := iosystemdsysupdate.TargetIdentifier{Class: "host"}
	if v, err := c.CheckNew(ctx, host); err != nil || v != "2" {
		t.Errorf("CheckNew = %q, %v; want 2", v, err)
	}
	name := "nope"
	var nst *iosystemdsysupdate.NoSuchTarget
	if _, err := c.CheckNew(ctx, iosystemdsysupdate.TargetIdentifier{Class: "component", Name: &name}); !errors.As(err, &nst) {
		t.Errorf("CheckNew of an unknown component: %v, want NoSuchTarget", err)
	}
	fs, err := c.ListFeatures(ctx, host)
	if err != nil || len(fs) != 1 || fs[0].Id != "extra" || !fs[0].Enabled || fs[0].Transfers == nil || !slices.Equal(*fs[0].Transfers, []string{"app"}) {
		b, _ := json.Marshal(fs)
		t.Errorf("ListFeatures = %s, %v", b, err)
	}
	if out, errOut, code := harness.Run(t, exec.Command(bin, "--root="+root, "update")); code != 0 {
		t.Fatalf("update: exit %d: %s%s", code, out, errOut)
	}
	var nun *iosystemdsysupdate.NoUpdateNeeded
	if _, err := c.CheckNew(ctx, host); !errors.As(err, &nun) {
		t.Errorf("CheckNew after the update: %v, want NoUpdateNeeded", err)
	}
}

// TestSysupdateManifestSubdirs: a server whose SHA256SUMS lists payloads in subdirectories
// ("foo_2/kernel.efi", "images/stable/tree_2.tar.gz"), matched by a pattern with a directory
// (url-file) and by a "**/" pattern (url-tar). Upstream 262 and ours agree on `list`, and
// `update` installs the newest version from the subdirectories. An entry escaping the
// directory ("../x") makes the whole manifest invalid, for both.
func TestSysupdateManifestSubdirs(t *testing.T) {
	up := harness.NeedUpstream(t)
	bin := harness.Binary(t, "./cmd/sysupdate")
	host, inside := up.Stage(t)
	root := filepath.Join(host, "root")
	web := t.TempDir()
	srv := fetchtest.New(t, web)
	var sums strings.Builder
	add := func(name string, data []byte) {
		harness.WriteFile(t, filepath.Join(web, name), string(data), 0o644)
		h := sha256.Sum256(data)
		fmt.Fprintf(&sums, "%s *%s\n", hex.EncodeToString(h[:]), name)
	}
	for _, v := range []string{"1", "2"} {
		add("foo_"+v+"/kernel.efi", []byte("kernel "+v))
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write(tarOf(t, "tree "+v))
		w.Close()
		add("images/stable/tree_"+v+".tar.gz", gz.Bytes())
	}
	add("unrelated/foo_9.txt", []byte("not matched"))
	harness.WriteFile(t, filepath.Join(web, "SHA256SUMS"), sums.String(), 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/os-release"), "ID=steadtest\nIMAGE_VERSION=1\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/sysupdate.d/10-kernel.transfer"), `[Transfer]
Verify=no
[Source]
Type=url-file
Path=`+srv.URL()+`
MatchPattern=foo_@v/kernel.efi
[Target]
Type=regular-file
Path=/boot/EFI/Linux
MatchPattern=kernel_@v.efi
`, 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/sysupdate.d/20-tree.transfer"), `[Transfer]
Verify=no
[Source]
Type=url-tar
Path=`+srv.URL()+`
MatchPattern=**/tree_@v.tar.gz
[Target]
Type=directory
Path=/var/lib/tree
MatchPattern=tree_@v
`, 0o644)
	harness.WriteFile(t, filepath.Join(root, "boot/EFI/Linux/kernel_1.efi"), "kernel 1", 0o644)
	harness.WriteFile(t, filepath.Join(root, "var/lib/tree/tree_1/c"), "tree 1", 0o644)

	ours := func(args ...string) (string, string, int) {
		return harness.Run(t, exec.Command(bin, append([]string{"--root=" + root}, args...)...))
	}
	compare := func(stage string, args ...string) {
		args = append([]string{"--json=short"}, args...)
		theirs, theirErr, theirCode := suUpstream(t, up, append([]string{"--root=" + filepath.Join(inside, "root")}, args...)...)
		our, ourErr, ourCode := ours(args...)
		if theirCode != ourCode || !jsonEqual(theirs, our) {
			t.Errorf("%s: %v:\nupstream (exit %d): %s%s\nours     (exit %d): %s%s", stage, args, theirCode, theirs, theirErr, ourCode, our, ourErr)
		}
	}
	compare("1 installed", "list")
	compare("1 installed", "list", "2")
	compare("1 installed", "check-new")

	if out, errOut, code := ours("update"); code != 0 {
		t.Fatalf("update: exit %d\n%s%s", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(root, "boot/EFI/Linux/kernel_2.efi")); err != nil || string(b) != "kernel 2" {
		t.Errorf("kernel_2.efi: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "var/lib/tree/tree_2/c")); err != nil || string(b) != "tree 2" {
		t.Errorf("tree_2/c: %q %v", b, err)
	}
	if n := srv.BytesServed("foo_2/kernel.efi"); n != int64(len("kernel 2")) {
		t.Errorf("foo_2/kernel.efi: %d bytes served", n)
	}
	compare("2 installed", "list")

	// An entry leaving the directory: the manifest is invalid as a whole.
	harness.WriteFile(t, filepath.Join(web, "SHA256SUMS"), sums.String()+strings.Repeat("ab", 32)+" *../escape_3/kernel.efi\n", 0o644)
	out, errOut, code := ours("--json=short", "check-new")
	if code == 0 || !strings.Contains(errOut, "line 6") {
		t.Errorf("check-new with an escaping entry: exit %d, %s%s; want a failure naming line 6", code, out, errOut)
	}
	if _, _, theirCode := suUpstream(t, up, "--root="+filepath.Join(inside, "root"), "check-new"); theirCode == 0 {
		t.Errorf("upstream accepted the manifest with an escaping entry")
	}
}

func sortedFeatures(t *testing.T, s string) string {
	var v struct{ Features []string }
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Errorf("features JSON %q: %v", s, err)
		return s
	}
	slices.Sort(v.Features)
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSysupdateFeatureVerbs: enable-feature and disable-feature of upstream 262 and ours, run
// in the same order on two copies of a root, write the same drop-ins (paths, content, modes),
// exit alike (a missing feature fails after the earlier ones were written), print the same
// messages, and afterwards `features` and `list` agree.
func TestSysupdateFeatureVerbs(t *testing.T) {
	up := harness.NeedUpstream(t)
	bin := harness.Binary(t, "./cmd/sysupdate")
	host, inside := up.Stage(t)
	mk := func(name string) string {
		root := filepath.Join(host, name)
		harness.WriteFile(t, filepath.Join(root, "etc/os-release"), "ID=steadtest\nIMAGE_VERSION=1\n", 0o644)
		harness.WriteFile(t, filepath.Join(root, "usr/lib/sysupdate.d/foo.feature"), "[Feature]\nDescription=Foo\n", 0o644)
		harness.WriteFile(t, filepath.Join(root, "usr/lib/sysupdate.d/bar.feature"), "[Feature]\nDescription=Bar\nEnabled=yes\n", 0o644)
		harness.WriteFile(t, filepath.Join(root, "usr/lib/sysupdate.d/a.transfer"), `[Transfer]
Features=foo
[Source]
Type=regular-file
Path=/src
MatchPattern=a_@v
[Target]
Type=regular-file
Path=/dst
MatchPattern=a_@v
`, 0o644)
		harness.WriteFile(t, filepath.Join(root, "src/a_2"), "2", 0o644)
		harness.WriteFile(t, filepath.Join(root, "dst/a_1"), "1", 0o644)
		return root
	}
	ours, theirs := mk("ours"), mk("theirs")
	tree := func(root string) string {
		var b strings.Builder
		filepath.Walk(filepath.Join(root, "etc"), func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			fmt.Fprintf(&b, "%s %v\n", rel, info.Mode())
			if info.Mode().IsRegular() {
				data, _ := os.ReadFile(p)
				fmt.Fprintf(&b, "%s\n", data)
			}
			return nil
		})
		return b.String()
	}
	for _, args := range [][]string{
		{"enable-feature", "foo"},
		{"disable-feature", "bar"},
		{"enable-feature", "bar", "nonexistent", "foo"},
		{"--json=short", "features"},
		{"--json=short", "features", "foo"},
		{"--json=short", "list"},
		{"-C", "comp", "enable-feature", "foo"},
	} {
		theirOut, theirErr, theirCode := suUpstream(t, up, append([]string{"--root=" + filepath.Join(inside, "theirs")}, args...)...)
		ourOut, ourErr, ourCode := harness.Run(t, exec.Command(bin, append([]string{"--root=" + ours}, args...)...))
		if len(args) == 2 && args[1] == "features" {
			// upstream lists the names in its hash table's order
			theirOut, ourOut = sortedFeatures(t, theirOut), sortedFeatures(t, ourOut)
		}
		// upstream runs with SYSTEMD_LOG_LEVEL=err: its stderr is the error, if any.
		if theirCode != ourCode || !jsonEqual(theirOut, ourOut) || !strings.Contains(ourErr, strings.TrimSpace(theirErr)) {
			t.Errorf("%v:\nupstream (exit %d): %s%s\nours     (exit %d): %s%s", args, theirCode, theirOut, theirErr, ourCode, ourOut, ourErr)
		}
		if a, b := tree(theirs), tree(ours); a != b {
			t.Errorf("after %v, /etc differs:\nupstream:\n%s\nours:\n%s", args, a, b)
		}
	}
}
