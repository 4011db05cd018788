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
	{Pkg: "cmd/networkctl", Guest: "/usr/bin/networkctl"},
	{Pkg: "cmd/steadctl", Guest: "/usr/bin/steadctl", Optional: true},
	{Pkg: "cmd/oomd", Guest: "/usr/lib/stead/oomd"},
	{Pkg: "cmd/oomctl", Guest: "/usr/bin/oomctl"},
}

// UnitDir is where the image puts units/ (the distribution's unit directory); test units
// go to /etc/systemd/system.
const UnitDir = "/usr/lib/systemd/system"

// NetworkdUnit runs stead's networkd (units/ has no unit for it yet). It is harmless in the
// VM: a guest without a NIC has only lo, and no .network file names it.
const NetworkdUnit = `[Unit]
Description=stead network manager (VM suite)
DefaultDependencies=no

[Service]
ExecStart=/usr/lib/stead/networkd
Restart=on-failure
`

// DefaultTarget pulls in the agent, stead's imdsd socket and networkd; extra are more
// units to want.
func DefaultTarget(extra ...string) string {
	wants := append([]string{"stead-vm-agent.service", "systemd-imdsd.socket", "stead-networkd.service"}, extra...)
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
		"/etc/systemd/system/stead-networkd.service": {Data: []byte(NetworkdUnit)},
		"/etc/systemd/system/default.target":         {Data: []byte(DefaultTarget())},
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
