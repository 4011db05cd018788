package suite

import (
	"fmt"
	"strings"

	"github.com/stead-os/stead/integration/fakecloud"
	"github.com/stead-os/stead/integration/vm"
)

// Cloud describes a cloud instance boot of the suite: the stead system with a cloud's DMI
// identity, a NIC whose 169.254.169.254:80 is forwarded (qemu guestfwd, restrict=on) to a
// fake cloud listening on the host's loopback, and no /etc/hostname (a first boot). What
// happens then is upstream's cloud boot: the imds generator recognises the cloud and pulls
// in the imds units, imdsd --setup-network writes the early .network file, networkd brings
// the link up by DHCP, systemd-imds-import.service fetches through the socket-activated
// imdsd and stores credentials, and the first-boot stand-in (FirstbootUnit) applies the host
// name.
type Cloud struct {
	Provider fakecloud.ProviderInfo
	// IMDS is the fake cloud's host address ("127.0.0.1:PORT").
	IMDS string
	// Network is systemd.imds.network= ("locked", "unlocked", "off"; "" leaves the build's
	// default).
	Network string
	// TPM adds a software TPM (swtpm, tpm-tis), marks the OS as measured and starts
	// io.systemd.PCRExtend, so that the user data is measured into PCR 12.
	TPM bool
	// KernelCmdline is appended.
	KernelCmdline string
}

// CloudTarget is the default.target of a cloud boot: everything DefaultTarget wants, and
// sysinit.target (where the generator links the imds units) and network-online.target, so
// that reaching default.target means the import has run, and imds's metrics socket.
func CloudTarget(tpm bool, extra ...string) string {
	units := []string{"sysinit.target", "network-online.target", "systemd-imds-metrics.socket"}
	if tpm {
		units = append(units, "systemd-pcrextend.socket")
	}
	return DefaultTarget(append(units, extra...)...)
}

// SMBIOS returns qemu -smbios values that give the guest d's identity: BIOS vendor (type 0),
// system manufacturer and product (type 1), chassis asset tag (type 3).
func SMBIOS(d fakecloud.DMI) []string {
	var out []string
	if d.BIOSVendor != "" {
		out = append(out, vm.SMBIOS(0, "vendor="+d.BIOSVendor))
	}
	var t1 []string
	if d.SysVendor != "" {
		t1 = append(t1, "manufacturer="+d.SysVendor)
	}
	if d.ProductName != "" {
		t1 = append(t1, "product="+d.ProductName)
	}
	if len(t1) > 0 {
		out = append(out, vm.SMBIOS(1, t1...))
	}
	if d.ChassisAssetTag != "" {
		out = append(out, vm.SMBIOS(3, "asset="+d.ChassisAssetTag))
	}
	return out
}

// Options completes o (Init, Agent and Files set by the caller, Files from Files) for the
// cloud boot c: default.target (CloudTarget), the DMI identity, the NIC with its forward, the
// kernel command line, the TPM, no /etc/hostname.
func (c Cloud) Options(o vm.Options) (vm.Options, error) {
	if len(c.Provider.IPv4) == 0 || c.Provider.IPv4[0].String() != vm.MetadataIP {
		return o, fmt.Errorf("suite: %s's metadata service is not at %s, the only address the VM network forwards", c.Provider.Vendor, vm.MetadataIP)
	}
	if o.Files == nil {
		o.Files = map[string]vm.File{}
	}
	o.Files["/etc/systemd/system/default.target"] = vm.File{Data: []byte(CloudTarget(c.TPM))}
	o.SMBIOS = append(o.SMBIOS, SMBIOS(c.Provider.DMI)...)
	o.Net = &vm.Net{GuestFwd: map[int]string{80: c.IMDS}}
	o.NoEtcHostname = true
	// The generator pulls systemd-imds-import.service in only when asked to (its default is
	// off, as upstream's).
	cmdline := []string{"systemd.imds.import=yes"}
	if c.Network != "" {
		cmdline = append(cmdline, "systemd.imds.network="+c.Network)
	}
	if c.TPM {
		o.TPM = true
		cmdline = append(cmdline, "systemd.tpm2_measured_os=1")
	}
	if c.KernelCmdline != "" {
		cmdline = append(cmdline, c.KernelCmdline)
	}
	if o.KernelCmdline != "" {
		cmdline = append([]string{o.KernelCmdline}, cmdline...)
	}
	o.KernelCmdline = strings.Join(cmdline, " ")
	return o, nil
}
