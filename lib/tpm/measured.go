package tpm

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/kcmdline"
)

// MeasuredMarker is stead's marker of a measured boot: whatever set up measured boot on a
// machine without upstream's systemd-stub creates it (see MeasuredOS).
const MeasuredMarker = "/run/stead/measured-os"

// StubPCRKernelImageVariable is the EFI variable upstream's systemd-stub sets when it
// measured the kernel image (vendor GUID of the boot loader interface).
const StubPCRKernelImageVariable = "/sys/firmware/efi/efivars/StubPcrKernelImage-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

// KernelTPMClass lists the TPM 2.0 devices the kernel drives with a resource manager: a
// hardware or firmware TPM, or a software one behind the vtpm proxy (tpm2-swtpm).
const KernelTPMClass = "/sys/class/tpmrm"

// KernelHasTPM reports whether the kernel under root drives a TPM 2.0 (an entry in
// KernelTPMClass), hardware or software.
func KernelHasTPM(root string) bool {
	ents, err := os.ReadDir(filepath.Join(root, KernelTPMClass))
	return err == nil && len(ents) > 0
}

// MeasuredOS is stead's one rule for "the OS is measured": init's ConditionSecurity=measured-os
// and pcrextend's decision to measure a word both call it, so they cannot disagree. In order:
//  1. $SYSTEMD_FORCE_MEASURE, a boolean, decides when set (as upstream);
//  2. else, without a TPM in use (KernelHasTPM: none in hardware, no software fallback), the
//     OS is not measured;
//  3. else systemd.tpm2_measured_os=BOOL on the kernel command line decides when given;
//  4. else the OS is measured when upstream's systemd-stub measured the kernel
//     (StubPCRKernelImageVariable exists) or MeasuredMarker exists.
//
// why says why not when the answer is false. Paths are resolved under root.
func MeasuredOS(root string) (measured bool, why string) {
	if v, ok := os.LookupEnv("SYSTEMD_FORCE_MEASURE"); ok {
		b, err := conf.ParseBool(v)
		if err == nil {
			if !b {
				return false, "SYSTEMD_FORCE_MEASURE is off"
			}
			return true, ""
		}
		slog.Warn("SYSTEMD_FORCE_MEASURE is not a boolean, ignoring it", "value", strconv.Quote(v))
	}
	if !KernelHasTPM(root) {
		return false, "no TPM 2.0 in use (" + KernelTPMClass + " is empty)"
	}
	if params, err := kcmdline.Load(root); err == nil {
		if v, found, err := kcmdline.LookupBool(params, "systemd.tpm2_measured_os"); found && err == nil {
			if !v {
				return false, "systemd.tpm2_measured_os=0 on the kernel command line"
			}
			return true, ""
		}
	}
	for _, p := range []string{StubPCRKernelImageVariable, MeasuredMarker} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			return true, ""
		} else if !errors.Is(err, os.ErrNotExist) {
			return false, err.Error()
		}
	}
	return false, "no measured boot: neither the stub's StubPcrKernelImage EFI variable nor " + MeasuredMarker + " exists"
}
