package tpm2swtpm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stead-os/stead/lib/kcmdline"
	"github.com/stead-os/stead/lib/tpm"
)

// Unit is the service the generator pulls in, and UnitPath where the distribution installs it.
const (
	Unit     = "systemd-tpm2-swtpm.service"
	UnitPath = "/usr/lib/systemd/system/" + Unit
)

// firmwareTPM is the ACPI table firmware publishes for a TPM 2.0 the kernel may not drive yet.
const firmwareTPM = "/sys/firmware/acpi/tables/TPM2"

// Wanted reports whether the software TPM is to start on the system under root, and why not:
// systemd.tpm2_software_fallback= on the kernel command line is true, there is no TPM (none
// the kernel drives, none the firmware announces), there is a boot secret, and swtpm is
// installed (found in $PATH, under root).
func Wanted(root string) (bool, string) {
	params, err := kcmdline.Load(root)
	if err != nil {
		return false, "kernel command line: " + err.Error()
	}
	v, found, err := kcmdline.LookupBool(params, "systemd.tpm2_software_fallback")
	switch {
	case err != nil:
		return false, err.Error()
	case !found || !v:
		return false, "systemd.tpm2_software_fallback= is not enabled on the kernel command line"
	}
	if tpm.KernelHasTPM(root) || exists(filepath.Join(root, "/sys/class/tpm"), true) || exists(filepath.Join(root, firmwareTPM), false) {
		return false, "the machine has a TPM"
	}
	if !exists(filepath.Join(root, BootSecret), false) {
		return false, "no boot secret (" + BootSecret + ")"
	}
	if !installed(root, "swtpm") {
		return false, "swtpm is not installed"
	}
	return true, ""
}

// exists reports whether p exists; with nonEmpty, a directory with at least one entry.
func exists(p string, nonEmpty bool) bool {
	if nonEmpty {
		ents, err := os.ReadDir(p)
		return err == nil && len(ents) > 0
	}
	_, err := os.Stat(p)
	return err == nil
}

// installed looks for an executable in $PATH (or the usual directories) under root.
func installed(root, name string) bool {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		fi, err := os.Stat(filepath.Join(root, dir, name))
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// Generate is the generator: when Wanted, it links Unit into sysinit.target.wants/ in dir.
// It returns whether it did, and why not.
func Generate(root, dir string) (bool, string, error) {
	ok, why := Wanted(root)
	if !ok {
		return false, why, nil
	}
	wants := filepath.Join(dir, "sysinit.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		return false, "", err
	}
	link := filepath.Join(wants, Unit)
	if err := os.Symlink(UnitPath, link); err != nil {
		if t, rerr := os.Readlink(link); !errors.Is(err, os.ErrExist) || rerr != nil || !strings.HasSuffix(t, "/"+Unit) {
			return false, "", fmt.Errorf("linking %s: %w", Unit, err)
		}
	}
	return true, "", nil
}
