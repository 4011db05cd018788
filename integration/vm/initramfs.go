package vm

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"

	"github.com/stead-os/stead/integration/vm/internal/cpio"
)

// File is the content of one file placed in the guest: from a host file (Source) or given
// (Data). Mode 0 means the source file's permissions, or 0644 for Data.
type File struct {
	Source string
	Data   []byte
	Mode   fs.FileMode
}

// Guest paths the harness uses.
const (
	AgentPath   = "/usr/lib/stead-vm/agent" // the guest agent binary
	ModulesList = "/etc/stead-vm/modules"   // modules the agent loads at start, in order
	SetupScript = "/stead-vm/setup"         // mounts /proc, /sys, /dev, /run, /tmp, cgroup2
	WrapperInit = "/stead-vm/init-wrap"     // rdinit= for AgentAuto with a custom init
	ConsoleDev  = "/dev/console"
)

// The guest's /etc/passwd and /etc/group; Options.Files may replace them with more
// accounts (keep these lines).
const (
	BasePasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	BaseGroup  = "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"
)

// AgentUnit is a service unit that starts the agent, for an init under test that reads
// units (place it with Options.Files and use AgentByInit).
const AgentUnit = `[Unit]
Description=stead VM harness agent
DefaultDependencies=no

[Service]
ExecStart=` + AgentPath + `
Restart=always
RestartSec=1

[Install]
WantedBy=sysinit.target
`

const setupScript = `#!/bin/sh
# stead VM harness: mount the API filesystems (each only if not mounted yet), load modules.
m() { grep -q "^[^ ]* $2 " /proc/mounts 2>/dev/null || { mkdir -p "$2"; mount -t "$1" -o "$3" "$1" "$2"; }; }
m proc /proc nosuid,nodev,noexec
m sysfs /sys nosuid,nodev,noexec
m devtmpfs /dev mode=0755,nosuid
mkdir -p /dev/pts /dev/shm
m devpts /dev/pts gid=5,mode=620,ptmxmode=000
m tmpfs /dev/shm nosuid,nodev
m tmpfs /run mode=0755,nosuid,nodev
m tmpfs /tmp mode=1777,nosuid,nodev
m cgroup2 /sys/fs/cgroup nsdelegate,nosuid,nodev,noexec
ip link set lo up 2>/dev/null
hostname stead-vm
# The agent loads these too (it may run under an init that does not); loaded ones fail quietly.
for mod in $(cat ` + ModulesList + ` 2>/dev/null); do insmod "$mod" 2>/dev/null; done
exit 0
`

// The default PID 1: busybox init, which reaps orphans and respawns the agent.
const defaultInit = `#!/bin/sh
# stead VM harness: default /init.
` + SetupScript + `
echo "stead-vm: starting busybox init"
exec /bin/busybox init
`

const inittab = `# stead VM harness
::shutdown:/bin/sync
`
const inittabAgent = `::respawn:` + AgentPath + "\n"

// With a custom /init and AgentAuto the kernel runs this first (rdinit=): it starts the
// agent in the background and hands PID 1 over to /init.
const wrapperInit = `#!/bin/sh
# stead VM harness: start the agent, then exec the init under test as PID 1.
` + SetupScript + `
( while :; do ` + AgentPath + `; sleep 1; done ) </dev/null &
exec /init "$@"
`

const udhcpcScript = `#!/bin/sh
# stead VM harness: minimal udhcpc script (busybox ifconfig/route).
case "$1" in
deconfig)
	ifconfig "$interface" 0.0.0.0 up
	;;
bound|renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	if [ -n "$router" ]; then
		while route del default gw 0.0.0.0 dev "$interface" 2>/dev/null; do :; done
		for r in $router; do route add default gw "$r" dev "$interface"; break; done
	fi
	if [ -n "$dns" ]; then
		: >/etc/resolv.conf
		for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
	fi
	;;
esac
exit 0
`

// node is one entry of the image being assembled.
type node struct {
	mode   uint32 // cpio type bits | permissions
	data   []byte
	source string
	target string // symlinks
	major  uint32
	minor  uint32
}

type image struct {
	nodes map[string]*node // path without leading "/"
}

func newImage() *image { return &image{nodes: map[string]*node{}} }

func clean(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func (im *image) parents(p string) {
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if n, ok := im.nodes[d]; !ok || n.mode&cpio.TypeMask != cpio.TypeDir {
			im.nodes[d] = &node{mode: cpio.TypeDir | 0o755}
		}
	}
}

func (im *image) dir(p string, perm fs.FileMode) {
	p = clean(p)
	im.parents(p)
	mode := cpio.TypeDir | uint32(perm.Perm())
	if perm&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	im.nodes[p] = &node{mode: mode}
}

func (im *image) file(p string, f File) error {
	p = clean(p)
	if p == "" {
		return fmt.Errorf("file with an empty path")
	}
	n := &node{data: f.Data, source: f.Source}
	perm := f.Mode.Perm()
	if f.Source != "" {
		st, err := os.Stat(f.Source)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", f.Source)
		}
		if perm == 0 {
			perm = st.Mode().Perm()
		}
	} else if perm == 0 {
		perm = 0o644
	}
	n.mode = cpio.TypeReg | uint32(perm)
	im.parents(p)
	im.nodes[p] = n
	return nil
}

func (im *image) symlink(p, target string) {
	p = clean(p)
	im.parents(p)
	im.nodes[p] = &node{mode: cpio.TypeSymlink | 0o777, target: target}
}

func (im *image) chardev(p string, perm fs.FileMode, major, minor uint32) {
	p = clean(p)
	im.parents(p)
	im.nodes[p] = &node{mode: cpio.TypeChar | uint32(perm.Perm()), major: major, minor: minor}
}

// write emits the image sorted by path, so that every directory precedes its contents.
func (im *image) write(w io.Writer) error {
	paths := make([]string, 0, len(im.nodes))
	for p := range im.nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	cw := cpio.NewWriter(w)
	for _, p := range paths {
		n := im.nodes[p]
		switch n.mode & cpio.TypeMask {
		case cpio.TypeDir, cpio.TypeChar:
			if err := cw.WriteHeader(&cpio.Header{Name: p, Mode: n.mode, Major: n.major, Minor: n.minor}); err != nil {
				return err
			}
		case cpio.TypeSymlink:
			if err := cw.WriteSymlink(p, n.target); err != nil {
				return err
			}
		case cpio.TypeReg:
			if n.source == "" {
				if err := cw.WriteHeader(&cpio.Header{Name: p, Mode: n.mode, Size: int64(len(n.data))}); err != nil {
					return err
				}
				if _, err := cw.Write(n.data); err != nil {
					return err
				}
				continue
			}
			if err := copySource(cw, p, n); err != nil {
				return err
			}
		}
	}
	return cw.Close()
}

func copySource(cw *cpio.Writer, p string, n *node) error {
	f, err := os.Open(n.source)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := cw.WriteHeader(&cpio.Header{Name: p, Mode: n.mode, Size: st.Size()}); err != nil {
		return err
	}
	if _, err := io.Copy(cw, f); err != nil {
		return fmt.Errorf("%s: %w", n.source, err)
	}
	return nil
}

// busyboxApplets lists the applet paths (bin/sh, usr/bin/wget, …) of the busybox binary.
func busyboxApplets(bb string) ([]string, error) {
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", bb, err)
	}
	var l []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if a := strings.TrimSpace(sc.Text()); strings.Contains(a, "/") {
			l = append(l, a)
		}
	}
	return l, nil
}

// buildImage assembles the initramfs for o.
func buildImage(k Kernel, agentBin string, o *Options) (*image, error) {
	im := newImage()
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "usr/lib", "etc", "proc", "sys", "dev",
		"run", "root", "var", "mnt", "lib/modules/" + k.Version} {
		im.dir(d, 0o755)
	}
	im.dir("tmp", 0o777|fs.ModeSticky)
	im.chardev(ConsoleDev, 0o600, 5, 1)
	im.chardev("/dev/null", 0o666, 1, 3)

	if err := im.file("/bin/busybox", File{Source: BusyboxPath, Mode: 0o755}); err != nil {
		return nil, err
	}
	applets, err := busyboxApplets(BusyboxPath)
	if err != nil {
		return nil, err
	}
	for _, a := range applets {
		if a != "bin/busybox" {
			im.symlink(a, "/bin/busybox")
		}
	}
	if err := im.file(AgentPath, File{Source: agentBin, Mode: 0o755}); err != nil {
		return nil, err
	}
	im.file(SetupScript, File{Data: []byte(setupScript), Mode: 0o755})
	if o.Agent == AgentNone {
		im.file("/etc/inittab", File{Data: []byte(inittab)})
	} else {
		im.file("/etc/inittab", File{Data: []byte(inittab + inittabAgent)})
	}
	im.file("/etc/passwd", File{Data: []byte(BasePasswd)})
	im.file("/etc/group", File{Data: []byte(BaseGroup)})
	if !o.NoEtcHostname {
		im.file("/etc/hostname", File{Data: []byte("stead-vm\n")})
	}
	im.file("/etc/udhcpc/default.script", File{Data: []byte(udhcpcScript), Mode: 0o755})
	if o.Init == "" {
		im.file("/init", File{Data: []byte(defaultInit), Mode: 0o755})
	} else {
		if err := im.file("/init", File{Source: o.Init, Mode: 0o755}); err != nil {
			return nil, fmt.Errorf("Init: %w", err)
		}
		im.file(WrapperInit, File{Data: []byte(wrapperInit), Mode: 0o755})
	}

	want := append(append([]string{}, DefaultModules...), o.Modules...)
	if o.Disk != "" {
		want = append(want, "virtio_blk")
	}
	mods, err := ResolveModules(k.Modules, want)
	if err != nil {
		return nil, err
	}
	modRoot := "/lib/modules/" + k.Version + "/"
	var list strings.Builder
	for _, m := range mods {
		im.file(modRoot+m.Path, File{Data: m.Data, Mode: 0o644})
		fmt.Fprintln(&list, modRoot+m.Path)
	}
	im.file(ModulesList, File{Data: []byte(list.String())})
	im.file(modRoot+"modules.dep", File{Data: modulesDep(mods)})
	if b, err := os.ReadFile(path.Join(k.Modules, "modules.builtin")); err == nil {
		im.file(modRoot+"modules.builtin", File{Data: b})
	}

	for _, d := range o.Dirs {
		im.dir(d, 0o755)
	}
	// Sorted, so that a file given twice under equivalent paths resolves the same way each run.
	keys := make([]string, 0, len(o.Files))
	for p := range o.Files {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		if err := im.file(p, o.Files[p]); err != nil {
			return nil, fmt.Errorf("Files[%q]: %w", p, err)
		}
	}
	return im, nil
}
