//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/unit"
)

// TestInitUnitsMount runs mount units in host mode, with init in a mount namespace of its own:
// a nested tmpfs pulls in and orders after its parent mount, options reach mount(8), a mount
// that mount(8) refuses (/dev/zero as ext4) fails with mount(8)'s message in the log, and stopping unmounts.
func TestInitUnitsMount(t *testing.T) {
	if _, err := exec.LookPath("umount"); err != nil {
		harness.Require(t, "mount(8) and umount(8) from util-linux", "mount")
	}
	bin := harness.Binary(t, "cmd/init")
	ctl := harness.Binary(t, "cmd/steadctl")
	root := t.TempDir()
	base := filepath.Join(t.TempDir(), "m p") // a space: escaped in the unit name
	parent, child, bad := base+"/data", base+"/data/sub", base+"/bad"
	name := func(p string) string {
		n, err := unit.EscapePath(p)
		if err != nil {
			t.Fatal(err)
		}
		return n + ".mount"
	}
	initWriteUnit(t, root, name(parent), "[Mount]\nWhat=tmpfs\nWhere="+parent+"\nType=tmpfs\nOptions=size=1m,mode=0710\n")
	initWriteUnit(t, root, name(child), "[Mount]\nWhat=tmpfs\nWhere="+child+"\nType=tmpfs\nOptions=size=1m\nDirectoryMode=0700\n")
	initWriteUnit(t, root, name(bad), "[Mount]\nWhat=/dev/zero\nWhere="+bad+"\nType=ext4\n")
	initWriteUnit(t, root, "default.target", "[Unit]\nWants="+name(child)+" "+name(bad)+"\n")

	cmd, _, log := startHostInitCmd(t, bin, root, func(c *exec.Cmd) {
		c.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes / private in it
	})
	e := &ctlEnv{t: t, root: root, ctl: ctl, log: log}
	initWaitPath(t, filepath.Join(root, "run/systemd/io.systemd.Manager"), log)
	e.waitState(name(child), "active")
	e.waitState(name(bad), "failed")

	mounts := func() map[string]string { // mount point → options, in init's namespace
		b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) > 5 {
				m[strings.ReplaceAll(f[4], `\040`, " ")] = strings.Join(f, " ")
			}
		}
		return m
	}
	m := mounts()
	if !strings.Contains(m[parent], "mode=710") || m[child] == "" {
		t.Fatalf("mounts in init's namespace: parent %q, child %q", m[parent], m[child])
	}
	if _, ok := mounts0()[parent]; ok {
		t.Fatal("the mount leaked into the test's own namespace")
	}
	if got := e.prop(name(parent), "ActiveState"); got != "active" {
		t.Errorf("the parent mount (pulled in by the child) is %s", got)
	}
	if got := e.prop(name(child), "SubState"); got != "mounted" {
		t.Errorf("child SubState %q, want mounted", got)
	}
	if got := e.prop(name(bad), "Result"); got != "exit-code" {
		t.Errorf("failed mount: Result=%q, want exit-code", got)
	}
	if got := e.prop("dev-zero.device", "ActiveState"); got != "active" {
		t.Errorf("dev-zero.device (the bad mount's device, BindsTo=) is %s", got)
	}
	if !strings.Contains(log.String(), "/dev/zero") || !strings.Contains(log.String(), "mount finished") {
		t.Errorf("mount(8)'s message about the missing device is not in the log:\n%s", log.String())
	}

	// Stopping the parent stops (unmounts) the child first: it requires the parent.
	e.must(0, "stop", name(parent))
	e.waitState(name(parent), "inactive")
	if got := e.prop(name(child), "ActiveState"); got != "inactive" {
		t.Errorf("child after the parent's stop: %s", got)
	}
	m = mounts()
	if m[parent] != "" || m[child] != "" {
		t.Errorf("still mounted after stop: %q %q", m[parent], m[child])
	}
	// Starting again mounts again; a mount point that is already mounted is taken as it is.
	e.must(0, "start", name(child))
	e.waitState(name(child), "active")
	if m = mounts(); m[child] == "" || m[parent] == "" {
		t.Errorf("not mounted again: %v", m)
	}
}

// mounts0 lists the mount points of the test process itself.
func mounts0() map[string]bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	m := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 5 {
			m[strings.ReplaceAll(f[4], `\040`, " ")] = true
		}
	}
	return m
}

// TestInitUnitsFstabGenerator runs our fstab-generator and upstream's systemd-fstab-generator
// 262 on the same fstab files, both inside the upstream root (same view of the file system),
// and compares every file and symlink they write.
func TestInitUnitsFstabGenerator(t *testing.T) {
	up := harness.NeedUpstream(t)
	ours := harness.Binary(t, "cmd/fstab-generator")
	host, inside := up.Stage(t)
	gen := harness.CopyIn(t, ours, host)
	gen = strings.TrimPrefix(gen, up.Dir)
	cases := map[string]string{
		"devices": "# a comment\n\nUUID=1234-ABCD /boot/efi vfat umask=0077,nofail 0 1\n" +
			"/dev/vdb1 /srv/data ext4 defaults,x-systemd.requires=foo.service,x-systemd.before=bar.service 0 2\n" +
			"LABEL=my\\040disk /c ext4 rw,x-systemd.requires-mounts-for=/var/x,x-systemd.rw-only 0 0\n" +
			"PARTUUID=abc-1 /d ext4 x-systemd.automount,x-systemd.idle-timeout=5min 0 0\n" +
			"PARTLABEL=p1 /e auto defaults 0 0\n/dev/vdc /mnt/a\\040b ext4 ro,x-systemd.mount-timeout=30s,x-systemd.device-timeout=5s 0 0\n",
		"special": "tmpfs /tmp tmpfs mode=1777,size=1G 0 0\n/srv/x /bind none bind 0 0\n/ / ext4 defaults 0 1\n" +
			"tmpfs /z tmpfs defaults,x-systemd.device-timeout=3 0 0\n/dev/vdb3 none ext4 defaults 0 0\n" +
			"/dev/vdb1 /mnt//x/ ext4 x-systemd.wants-mounts-for=/w,x-systemd.after=a.service,x-systemd.before=b.service,x-systemd.requires=c.service,x-systemd.requires-mounts-for=/r,x-systemd.mount-timeout=90,ro 0 0\n",
		"network-and-install": "server:/export /mnt/nfs nfs _netdev,noauto 0 0\n/dev/vdb5 /h ext4 _netdev 0 0\n" +
			"LABEL=home /home xfs defaults,x-systemd.after=network.target,x-systemd.wanted-by=multi-user.target 0 0\n" +
			"/dev/vdb4 /y ext4 defaults,nofail,x-systemd.wanted-by=a.target,x-systemd.wanted-by=b.target 0 0\n" +
			"/dev/vdb6 /g ext4 x-systemd.required-by=foo.service,x-systemd.wants-mounts-for=/w 0 0\n" +
			"/dev/vdb7 /q ext4 ro,x-systemd.requires=x.service,x-systemd.requires=y.service 0 0\n" +
			"cifs://srv/share /smb cifs nofail 0 0\nsshfs#u@h:/ /ssh fuse.sshfs defaults 0 0\n",
		"swap":      "/dev/sda2 none swap sw 0 0\n/dev/sda3 swap swap defaults,nofail 0 0\n/swapfile none swap noauto 0 0\n",
		"empty":     "",
		"bad-lines": "/dev/vdb1\n/dev/vdb2 relative ext4 defaults 0 0\n/dev/vdb2 /ok ext4 defaults 0 notanumber\n",
	}
	for _, withProc := range []bool{true, false} {
		for name, fstab := range cases {
			if !withProc && name != "swap" {
				continue
			}
			name := name + map[bool]string{true: "", false: "-without-proc"}[withProc]
			t.Run(name, func(t *testing.T) {
				harness.WriteFile(t, filepath.Join(host, name+".fstab"), fstab, 0o644)
				run := func(who, bin string) map[string]string {
					out := filepath.Join(host, name+"."+who)
					for _, d := range []string{"n", "e", "l"} {
						if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
							t.Fatal(err)
						}
					}
					in := filepath.Join(inside, name+"."+who)
					cmd := up.Command(bin, in+"/n", in+"/e", in+"/l")
					if withProc { // /proc/swaps decides whether swap entries count
						cmd.Args = append([]string{"unshare", "-m", "sh", "-c", `mount --rbind /proc "$0/proc" && exec chroot "$0" "$@"`}, cmd.Args[1:]...)
						cmd.Path = "/usr/bin/unshare"
					}
					cmd.Env = append(cmd.Env, "SYSTEMD_FSTAB="+filepath.Join(inside, name+".fstab"), "SYSTEMD_PROC_CMDLINE=", "SYSTEMD_LOG_LEVEL=err")
					if _, stderr, code := harness.Run(t, cmd); code != 0 {
						t.Fatalf("%s generator: exit %d: %s", who, code, stderr)
					}
					return treeOf(t, out)
				}
				want, got := run("upstream", "/usr/lib/systemd/system-generators/systemd-fstab-generator"), run("ours", gen)
				for _, k := range unionKeys(want, got) {
					if want[k] != got[k] {
						t.Errorf("%s:\nupstream:\n%s\nours:\n%s", k, want[k], got[k])
					}
				}
				if len(want) == 0 {
					t.Error("upstream wrote nothing: the comparison proves nothing")
				}
			})
		}
	}
	// fstab=no on the kernel command line: nothing at all.
	out := filepath.Join(host, "off")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := up.Command(gen, filepath.Join(inside, "off"))
	cmd.Env = append(cmd.Env, "SYSTEMD_FSTAB="+filepath.Join(inside, "devices.fstab"), "SYSTEMD_PROC_CMDLINE=fstab=no")
	if _, stderr, code := harness.Run(t, cmd); code != 0 {
		t.Fatalf("fstab=no: exit %d: %s", code, stderr)
	}
	if tree := treeOf(t, out); len(tree) != 0 {
		t.Errorf("fstab=no wrote %v", tree)
	}
}

// treeOf maps every file (content) and symlink ("-> target") under dir by relative path.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			m[rel] = "-> " + l
			return err
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			m[rel] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// unionKeys is the union of the maps' keys, sorted.
func unionKeys(a, b map[string]string) []string {
	seen := map[string]bool{}
	var ks []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
	}
	sort.Strings(ks)
	return ks
}
