//go:build integration

package integration

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

// installFixture writes what both trees start from: the upstream root's
// own units and its Debian-enabled /etc/systemd/system, plus crafted
// units exercising Alias=, Also=, DefaultInstance=, templates,
// RequiredBy=, UpheldBy=, drop-ins, masks, linked, generated and
// transient units, and preset files.
func installFixture(t *testing.T, up *harness.Upstream, dir string) {
	t.Helper()
	for _, d := range []string{"usr/lib/systemd/system", "etc/systemd/system", "usr/lib/systemd/system-preset"} {
		cp := exec.Command("cp", "-a", filepath.Join(up.Dir, d)+"/.", filepath.Join(dir, d)+"/")
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := cp.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", cp.Args, err, out)
		}
	}
	// Debian's links point through /lib.
	if err := os.Symlink("usr/lib", filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"usr/lib/systemd/system/foo.service": "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n" +
			"RequiredBy=graphical.target\nUpheldBy=basic.target\nAlias=bar.service baz.service\nAlso=qux.service\n",
		"usr/lib/systemd/system/qux.service":    "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=sockets.target\n",
		"usr/lib/systemd/system/tpl@.service":   "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=def\nAlias=tal@.service\n",
		"usr/lib/systemd/system/helper.service": "[Service]\nExecStart=/bin/true\n[Install]\nAlso=qux.service\n",
		"usr/lib/systemd/system/spec@.service": "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=target-%i.target\nDefaultInstance=one\n" +
			"RequiredBy=%p.target\n",
		"usr/lib/systemd/system/nodefault@.service":  "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"usr/lib/systemd/system/dropin.service":      "[Service]\nExecStart=/bin/true\n",
		"etc/systemd/system/dropin.service.d/i.conf": "[Install]\nWantedBy=multi-user.target\n",
		"usr/lib/systemd/system/reset.service":       "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=a.target\nWantedBy=\nWantedBy=b.target\n",
		"usr/lib/systemd/system/badalias.service":    "[Service]\nExecStart=/bin/true\n[Install]\nAlias=other.socket\nWantedBy=multi-user.target\n",
		"usr/lib/systemd/system/masked.service":      "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"usr/lib/systemd/system/rt.service":          "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"usr/lib/systemd/system/conflict.service":    "[Service]\nExecStart=/bin/true\n[Install]\nAlias=taken.service\n",
		"usr/lib/systemd/system/other.service":       "[Service]\nExecStart=/bin/true\n",
		"etc/systemd/system/local.service":           "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=loc.service\n",
		"opt/ext/ext.service":                        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"run/systemd/generator/gen.service":          "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"run/systemd/transient/tr.service":           "[Service]\nExecStart=/bin/true\n",
		"usr/lib/systemd/system/empty.service":       "",
		"etc/systemd/system-preset/10-local.preset": "disable foo.service\nenable tpl@.service a b\nignore qux.service\n" +
			"disable systemd-networkd*\nenable local.service\nbogus line here\n",
		"usr/lib/systemd/system-preset/99-default.preset": "disable *\n",
	}
	for p, c := range files {
		harness.WriteFile(t, filepath.Join(dir, p), c, 0o644)
	}
	for link, target := range map[string]string{
		"etc/systemd/system/masked.service":    "/dev/null",
		"run/systemd/system/rtmask.service":    "/dev/null",
		"etc/systemd/system/ext.service":       "/opt/ext/ext.service",
		"etc/systemd/system/taken.service":     "/usr/lib/systemd/system/other.service",
		"etc/systemd/system/dangling.service":  "/usr/lib/systemd/system/gone.service",
		"usr/lib/systemd/system/vendor.target": "multi-user.target",
	} {
		p := filepath.Join(dir, link)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
}

// linkTree lists the symlinks and directories below etc/ and run/ of a
// root: "path -> target" and "path/".
func linkTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, top := range []string{"etc/systemd", "run/systemd"} {
		filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				out = append(out, rel+" -> "+target)
			case d.IsDir():
				out = append(out, rel+"/")
			}
			return nil
		})
	}
	sort.Strings(out)
	return out
}

// installPair is the same tree twice inside the upstream root: one
// changed by steadctl, one by upstream's systemctl.
type installPair struct {
	t                *testing.T
	up               *harness.Upstream
	ctl              string
	ours, theirs     string // host paths
	oursIn, theirsIn string // the same, as seen inside the upstream root
}

func newInstallPair(t *testing.T, up *harness.Upstream, ctl string) *installPair {
	p := &installPair{t: t, up: up, ctl: ctl}
	p.ours, p.oursIn = up.Stage(t)
	p.theirs, p.theirsIn = up.Stage(t)
	installFixture(t, up, p.ours)
	installFixture(t, up, p.theirs)
	return p
}

// cleanLog keeps the lines that describe changes and errors, with the
// root replaced, sorted (upstream removes links in directory order).
func cleanLog(s, root string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l == "" || strings.Contains(l, "/proc/") || strings.Contains(l, "invocation environment") ||
			strings.Contains(l, "mileage") || strings.Contains(l, "Couldn't parse line") || strings.Contains(l, "parse line") {
			continue
		}
		l = strings.ReplaceAll(l, root, "ROOT")
		// systemctl 262 prints a failed disable's error twice.
		if len(out) > 0 && out[len(out)-1] == l {
			continue
		}
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// both runs one command on both trees and compares exit codes, messages
// and the resulting symlink trees.
func (p *installPair) both(args ...string) {
	t := p.t
	t.Helper()
	oOut, oErr, oCode := harness.Run(t, exec.Command(p.ctl, append([]string{"--root=" + p.ours}, args...)...))
	uOut, uErr, uCode := p.up.Run(t, "systemctl", append([]string{"--root=" + p.theirsIn}, args...)...)
	if oCode != uCode {
		t.Errorf("%v: exit %d, upstream %d\nours: %s%s\nupstream: %s%s", args, oCode, uCode, oOut, oErr, uOut, uErr)
	}
	if o, u := cleanLog(oOut+oErr, p.ours), cleanLog(uOut+uErr, p.theirsIn); strings.Join(o, "\n") != strings.Join(u, "\n") {
		t.Errorf("%v: messages differ\nours:\n%s\nupstream:\n%s", args, strings.Join(o, "\n"), strings.Join(u, "\n"))
	}
	p.sameTrees(args)
}

func (p *installPair) sameTrees(what []string) {
	t := p.t
	t.Helper()
	o, u := linkTree(t, p.ours), linkTree(t, p.theirs)
	if strings.Join(o, "\n") == strings.Join(u, "\n") {
		return
	}
	om, um := map[string]bool{}, map[string]bool{}
	for _, l := range o {
		om[l] = true
	}
	for _, l := range u {
		um[l] = true
	}
	var diff []string
	for _, l := range o {
		if !um[l] {
			diff = append(diff, "+ ours only: "+l)
		}
	}
	for _, l := range u {
		if !om[l] {
			diff = append(diff, "- upstream only: "+l)
		}
	}
	t.Errorf("%v: trees differ:\n%s", what, strings.Join(diff, "\n"))
}

// states compares is-enabled for each unit: ours on our tree, upstream
// on its tree, and upstream reading our tree.
func (p *installPair) states(units ...string) {
	t := p.t
	t.Helper()
	for _, u := range units {
		oOut, oErr, oCode := harness.Run(t, exec.Command(p.ctl, "--root="+p.ours, "is-enabled", u))
		uOut, _, uCode := p.up.Run(t, "systemctl", "--root="+p.theirsIn, "is-enabled", u)
		xOut, _, xCode := p.up.Run(t, "systemctl", "--root="+p.oursIn, "is-enabled", u)
		if oOut != uOut || oCode != uCode {
			t.Errorf("is-enabled %s: %q (exit %d), upstream %q (exit %d) %s", u, oOut, oCode, uOut, uCode, oErr)
		}
		if xOut != uOut || xCode != uCode {
			t.Errorf("upstream is-enabled %s on our tree: %q (exit %d), on its own %q (exit %d)", u, xOut, xCode, uOut, uCode)
		}
	}
}

var installStateUnits = []string{
	"foo.service", "bar.service", "baz.service", "qux.service", "helper.service", "tpl@.service", "tpl@def.service",
	"tpl@x.service", "tpl@y.service", "tal@x.service", "tal@.service", "spec@.service", "spec@one.service",
	"nodefault@.service", "nodefault@z.service", "dropin.service", "reset.service", "badalias.service",
	"masked.service", "rtmask.service", "rt.service", "conflict.service", "taken.service", "local.service",
	"loc.service", "ext.service", "gen.service", "tr.service", "empty.service", "dangling.service", "vendor.target",
	"nonexistent.service", "getty@.service", "getty@tty1.service", "getty@tty2.service", "autovt@tty3.service",
	"serial-getty@ttyS0.service", "systemd-networkd.service", "systemd-networkd.socket",
	"systemd-resolved.service", "dbus-org.freedesktop.resolve1.service", "systemd-oomd.service",
	"systemd-journald.service", "multi-user.target", "ctrl-alt-del.target", "reboot.target", "fstrim.timer",
	"systemd-timesyncd.service", "remote-fs.target",
}

// TestInitUnitsInstall compares steadctl's enable, disable, reenable,
// mask, unmask, preset and preset-all with upstream systemctl 262 --root
// on identical trees: symlink trees, messages, exit codes and is-enabled
// states, and upstream's reading of the trees steadctl wrote.
func TestInitUnitsInstall(t *testing.T) {
	up := harness.NeedUpstream(t)
	ctl := harness.Binary(t, "cmd/steadctl")
	p := newInstallPair(t, up, ctl)
	p.sameTrees([]string{"fixture"})
	p.states(installStateUnits...)

	for _, step := range [][]string{
		{"enable", "foo.service"},
		{"enable", "tpl@.service"},
		{"enable", "tpl@x.service"},
		{"enable", "spec@.service"},
		{"enable", "spec@two.service"},
		{"enable", "local.service"},
		{"enable", "dropin.service", "reset"},
		{"enable", "nodefault@.service"},
		{"enable", "nodefault@n.service"},
		{"enable", "helper.service"},
		{"enable", "masked.service"},
		{"enable", "badalias.service"},
		{"enable", "conflict.service"},
		{"enable", "--force", "conflict.service"},
		{"enable", "nonexistent.service"},
		{"enable", "gen.service"},
		{"enable", "tr.service"},
		{"enable", "/opt/ext/ext.service"},
		{"enable", "systemd-journald.service"},
		{"enable", "--runtime", "rt.service"},
		{"enable", "systemd-networkd.service"},
		{"enable", "getty@tty2.service", "serial-getty@ttyS0.service"},
		{"enable", "bar.service"},
	} {
		p.both(step...)
	}
	p.states(installStateUnits...)
	for _, step := range [][]string{
		{"disable", "bar.service"},
		{"disable", "tpl@x.service"},
		{"disable", "spec@.service"},
		{"disable", "getty@.service"},
		{"disable", "--runtime", "rt.service"},
		{"disable", "systemd-resolved.service"},
		{"disable", "dangling.service"},
		{"disable", "nonexistent.service"},
		{"reenable", "systemd-networkd.service"},
		{"reenable", "local.service"},
		{"mask", "systemd-timesyncd.service", "nonexistent.service"},
		{"mask", "foo.service"},
		{"mask", "--runtime", "rt.service"},
		{"unmask", "masked.service", "foo.service", "rtmask.service"},
		{"unmask", "--runtime", "rt.service"},
	} {
		p.both(step...)
	}
	p.states(installStateUnits...)
	for _, step := range [][]string{
		{"preset", "foo.service", "tpl@.service", "qux.service", "local.service"},
		{"preset", "systemd-networkd.service", "systemd-resolved.service"},
		{"preset", "--preset-mode=enable-only", "systemd-timesyncd.service", "getty@.service"},
	} {
		p.both(step...)
	}
	p.states(installStateUnits...)

	// preset-all on fresh trees: every unit of the distribution against
	// upstream's presets plus ours.
	for _, mode := range []string{"full", "enable-only", "disable-only"} {
		q := newInstallPair(t, up, ctl)
		q.both("preset-all", "--preset-mode="+mode)
		q.states(installStateUnits...)
	}
}
