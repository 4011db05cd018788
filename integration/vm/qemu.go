package vm

import (
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// User-mode network of a VM with Options.Net: the guest gets an address from slirp's DHCP in
// NetCIDR, and reaches nothing but the forwards of Net.GuestFwd (restrict=on).
const (
	NetCIDR      = "169.254.169.0/24"
	NetHost      = "169.254.169.2" // slirp's gateway (and DHCP server)
	NetDNS       = "169.254.169.3" // slirp's DNS (its default: the network's .3)
	NetDHCPStart = "169.254.169.15"
	MetadataIP   = "169.254.169.254" // the address Net.GuestFwd forwards from
)

// DefaultCmdline starts every kernel command line (the extra of Options.KernelCmdline
// follows it, so e.g. "loglevel=7" overrides quiet).
const DefaultCmdline = "console=ttyS0 quiet panic=-1"

// Net configures the guest's network (a virtio-net NIC, eth0 in the guest).
type Net struct {
	// GuestFwd maps a TCP port on MetadataIP, as the guest sees it, to a listening address on
	// the host's loopback ("127.0.0.1:PORT"); each guest connection runs
	// `socat - TCP:ADDR` on the host. Any non-loopback host address is refused.
	GuestFwd map[int]string
}

// SMBIOS formats a -smbios argument: SMBIOS(1, "manufacturer=Amazon EC2",
// "product=m5.large") gives "type=1,manufacturer=Amazon EC2,product=m5.large". Commas in
// values are escaped the way qemu wants (",,").
func SMBIOS(typ int, fields ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "type=%d", typ)
	for _, f := range fields {
		b.WriteByte(',')
		b.WriteString(qemuEscape(f))
	}
	return b.String()
}

// qemuEscape doubles commas, the escape of qemu's key=value,… option syntax.
func qemuEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// checkLoopback refuses host addresses that are not on this machine's loopback.
func checkLoopback(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", 0, fmt.Errorf("guestfwd target %q is not a loopback address", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("guestfwd target %q: bad port", addr)
	}
	return host, p, nil
}

// netdevArg builds the -netdev value; restrict=on always.
func netdevArg(n *Net) (string, error) {
	parts := []string{"user", "id=n0", "restrict=on", "net=" + NetCIDR, "host=" + NetHost,
		"dhcpstart=" + NetDHCPStart}
	ports := make([]int, 0, len(n.GuestFwd))
	for p := range n.GuestFwd {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	for _, gp := range ports {
		if gp <= 0 || gp > 65535 {
			return "", fmt.Errorf("guestfwd: bad guest port %d", gp)
		}
		host, hp, err := checkLoopback(n.GuestFwd[gp])
		if err != nil {
			return "", err
		}
		target := net.JoinHostPort(host, strconv.Itoa(hp))
		if strings.Contains(host, ":") { // socat wants TCP6:[::1]:PORT
			target = "TCP6:" + target
		} else {
			target = "TCP:" + target
		}
		parts = append(parts, fmt.Sprintf("guestfwd=tcp:%s:%d-cmd:socat - %s", MetadataIP, gp, qemuEscape(target)))
	}
	return strings.Join(parts, ","), nil
}

// qemuPaths are the files of one VM that go on qemu's command line.
type qemuPaths struct {
	kernel, initrd string
	agentSock      string // "" with AgentNone
	monitorSock    string
	tpmSock        string // "" without TPM
}

func qemuArgs(o *Options, p qemuPaths) ([]string, error) {
	mem := o.Memory
	if mem == 0 {
		mem = 512
	}
	cpus := o.CPUs
	if cpus == 0 {
		cpus = 1
	}
	cmdline := DefaultCmdline
	if o.Init != "" && o.Agent == AgentAuto {
		cmdline += " rdinit=" + WrapperInit
	}
	if o.KernelCmdline != "" {
		cmdline += " " + o.KernelCmdline
	}
	a := []string{
		"-accel", "tcg", "-cpu", "max",
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-nodefaults", "-nographic", "-no-reboot",
		"-serial", "stdio",
		"-monitor", "unix:" + qemuEscape(p.monitorSock) + ",server=on,wait=off",
		"-kernel", p.kernel, "-initrd", p.initrd, "-append", cmdline,
	}
	if p.agentSock != "" {
		a = append(a,
			"-device", "virtio-serial-pci,id=vser0",
			"-chardev", "socket,id=agent,path="+qemuEscape(p.agentSock)+",server=on,wait=off",
			"-device", "virtserialport,bus=vser0.0,chardev=agent,name="+agentPortName)
	}
	for _, s := range o.SMBIOS {
		a = append(a, "-smbios", s)
	}
	if o.Net != nil {
		nd, err := netdevArg(o.Net)
		if err != nil {
			return nil, err
		}
		a = append(a, "-netdev", nd, "-device", "virtio-net-pci,netdev=n0,romfile=")
	} else {
		a = append(a, "-nic", "none")
	}
	if p.tpmSock != "" {
		a = append(a,
			"-chardev", "socket,id=chrtpm,path="+qemuEscape(p.tpmSock),
			"-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
			"-device", "tpm-tis,tpmdev=tpm0")
	}
	if o.Disk != "" {
		format := "raw"
		if filepath.Ext(o.Disk) == ".qcow2" {
			format = "qcow2"
		}
		a = append(a,
			"-drive", "file="+qemuEscape(o.Disk)+",if=none,id=disk0,format="+format,
			"-device", "virtio-blk-pci,drive=disk0")
	}
	return a, nil
}
