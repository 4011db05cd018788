// Package suite assembles the stead system image the VM tests and the demo boot: stead's
// init as PID 1, its daemons at the paths the unit files name, the unit files of units/,
// the hwdb of hwdb/, and a default.target that pulls them in with the harness's agent.
package suite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stead-os/stead/integration/vm"
)

// Binary is one program of the suite: its main package and where the image installs it
// (the paths units/ names: daemons under /usr/lib/stead, tools under /usr/bin).
type Binary struct {
	Pkg, Guest string
	// Optional binaries are left out when their package is not in the checkout.
	Optional bool
}

// Binaries lists what the image installs besides /init (cmd/init).
var Binaries = []Binary{
	{Pkg: "cmd/imdsd", Guest: "/usr/lib/stead/imdsd"},
	{Pkg: "cmd/imds", Guest: "/usr/bin/imds"},
	{Pkg: "cmd/networkd", Guest: "/usr/lib/stead/networkd"},
	{Pkg: "cmd/networkd-wait-online", Guest: "/usr/lib/stead/networkd-wait-online"},
	{Pkg: "cmd/imds-generator", Guest: GeneratorDir + "/systemd-imds-generator"},
	{Pkg: "cmd/pcrextend", Guest: "/usr/lib/stead/pcrextend"},
	{Pkg: "cmd/networkctl", Guest: "/usr/bin/networkctl"},
	{Pkg: "cmd/steadctl", Guest: "/usr/bin/steadctl", Optional: true},
	{Pkg: "cmd/oomd", Guest: "/usr/lib/stead/oomd"},
	{Pkg: "cmd/oomctl", Guest: "/usr/bin/oomctl"},
}

// UnitDir is where the image puts units/ (the distribution's unit directory); test units
// go to /etc/systemd/system.
const UnitDir = "/usr/lib/systemd/system"

// GeneratorDir is where init looks for system generators (upstream's directory).
const GeneratorDir = "/usr/lib/systemd/system-generators"

// Targets are the synchronisation points units/ orders itself against, as upstream ships
// them (stead ships no targets of its own yet): the image has them so that Before=/After=
// and the generator's sysinit.target.wants/ links mean what they mean upstream.
var Targets = map[string]string{
	"sysinit.target":        "[Unit]\nDescription=System Initialization\nWants=systemd-firstboot.service\n",
	"sockets.target":        "[Unit]\nDescription=Sockets\n",
	"network-pre.target":    "[Unit]\nDescription=Preparation for Network\n",
	"network.target":        "[Unit]\nDescription=Network\nAfter=network-pre.target\n",
	"network-online.target": "[Unit]\nDescription=Network is Online\nWants=systemd-networkd-wait-online.service\nAfter=network.target systemd-networkd-wait-online.service\n",
}

// FirstbootUnit stands in for upstream's systemd-firstboot.service in its one role on a cloud
// instance: on a first boot (no /etc/hostname) it takes the host name from the credential
// firstboot.hostname, which systemd-imds-import.service (ordered before it) stores in
// /run/credstore, writes /etc/hostname and sets the kernel's host name. Upstream's firstboot
// does the same through ImportCredential=firstboot.*, handing the name to systemd-hostnamed
// (SetStaticHostname: /etc/hostname and the kernel's name); stead has neither program yet.
const FirstbootUnit = `[Unit]
Description=First Boot Wizard (stead VM suite stand-in: host name from credentials)
DefaultDependencies=no
ConditionPathExists=!/etc/hostname
After=systemd-imds-import.service
Before=sysinit.target
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ImportCredential=firstboot.*
ExecStart=/bin/sh ` + FirstbootScriptPath + `
`

// FirstbootScriptPath is FirstbootScript's place in the image.
const FirstbootScriptPath = "/usr/lib/stead-vm/firstboot-hostname"

// FirstbootScript is what FirstbootUnit runs: upstream's checks (a valid host name, at most 64
// bytes of letters, digits, '-' and '.') and messages, then the write and sethostname(2).
const FirstbootScript = `#!/bin/sh
f="$CREDENTIALS_DIRECTORY/firstboot.hostname"
if [ -z "$CREDENTIALS_DIRECTORY" ] || [ ! -r "$f" ]; then
	echo "firstboot: no firstboot.hostname credential, nothing to do"
	exit 0
fi
h=$(cat "$f")
case "$h" in
""|-*|.*|*[!A-Za-z0-9.-]*)
	echo "firstboot: Hostname '$h' supplied via credential is not valid, ignoring."
	exit 0 ;;
esac
if [ ${#h} -gt 64 ]; then
	echo "firstboot: Hostname supplied via credential is longer than 64 bytes, ignoring."
	exit 0
fi
echo "$h" >/etc/hostname.firstboot && mv /etc/hostname.firstboot /etc/hostname || exit 1
hostname "$h" || exit 1
echo "firstboot: Acquired hostname from credentials: $h (/etc/hostname written, host name set)"
`

// DefaultTarget pulls in the agent, stead's imdsd socket and networkd (systemd-networkd.service
// of units/); extra are more units to want.
func DefaultTarget(extra ...string) string {
	wants := append([]string{"stead-vm-agent.service", "systemd-imdsd.socket", "systemd-networkd-varlink.socket", "systemd-networkd.service"}, extra...)
	return fmt.Sprintf(`[Unit]
Description=Default target of the stead VM suite
Wants=%[1]s
After=%[1]s
`, strings.Join(wants, " "))
}

// Files returns the image's files: units/ under UnitDir (*.sysusers under
// /usr/lib/sysusers.d as NAME.conf), hwdb/*.hwdb under /usr/lib/udev/hwdb.d, the agent and
// networkd units and default.target under /etc/systemd/system (the caller may replace
// default.target), and each of Binaries from binary(pkg), which returns a built static
// binary's host path. repo is the checkout.
func Files(repo string, binary func(pkg string) (string, error)) (map[string]vm.File, error) {
	files := map[string]vm.File{
		"/etc/systemd/system/stead-vm-agent.service": {Data: []byte(vm.AgentUnit)},
		"/etc/systemd/system/default.target":         {Data: []byte(DefaultTarget())},
	}
	files[UnitDir+"/systemd-firstboot.service"] = vm.File{Data: []byte(FirstbootUnit)}
	files[FirstbootScriptPath] = vm.File{Data: []byte(FirstbootScript), Mode: 0o755}
	for name, content := range Targets {
		files[UnitDir+"/"+name] = vm.File{Data: []byte(content)}
	}
	units, err := os.ReadDir(filepath.Join(repo, "units"))
	if err != nil {
		return nil, err
	}
	var sysusers []string
	for _, e := range units {
		src := filepath.Join(repo, "units", e.Name())
		if name, ok := strings.CutSuffix(e.Name(), ".sysusers"); ok {
			files["/usr/lib/sysusers.d/"+name+".conf"] = vm.File{Source: src}
			sysusers = append(sysusers, src)
		} else {
			files[UnitDir+"/"+e.Name()] = vm.File{Source: src}
		}
	}
	passwd, group, err := accounts(sysusers)
	if err != nil {
		return nil, err
	}
	files["/etc/passwd"] = vm.File{Data: []byte(passwd)}
	files["/etc/group"] = vm.File{Data: []byte(group)}
	hw, _ := filepath.Glob(filepath.Join(repo, "hwdb", "*.hwdb"))
	for _, src := range hw {
		files["/usr/lib/udev/hwdb.d/"+filepath.Base(src)] = vm.File{Source: src}
	}
	for _, b := range Binaries {
		if _, err := os.Stat(filepath.Join(repo, b.Pkg)); err != nil && b.Optional {
			continue
		}
		p, err := binary(b.Pkg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Pkg, err)
		}
		files[b.Guest] = vm.File{Source: p, Mode: 0o755}
	}
	return files, nil
}

// accounts stands in for systemd-sysusers at image build time: every `u NAME …` line of
// the sysusers.d files becomes a system user with a group of the same name (uids from 990
// down, which is what the image has no other use for).
func accounts(sysusers []string) (passwd, group string, err error) {
	passwd, group = vm.BasePasswd, vm.BaseGroup
	uid := 990
	for _, f := range sysusers {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", "", err
		}
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 || fields[0] != "u" {
				continue
			}
			passwd += fmt.Sprintf("%s:x:%d:%d::/:/usr/sbin/nologin\n", fields[1], uid, uid)
			group += fmt.Sprintf("%s:x:%d:\n", fields[1], uid)
			uid--
		}
	}
	return passwd, group, nil
}

// UpstreamVarlinkctl is where the image puts upstream's varlinkctl (with its libraries, from
// vm.DynamicFiles).
const UpstreamVarlinkctl = "/usr/bin/varlinkctl"
