// Package pcrextend is stead's systemd-pcrextend: it measures a word or a Varlink request's
// data into a TPM PCR, every active bank at once (lib/tpm), and appends each measurement to
// the userspace measurement log (eventlog.go). As a service it serves io.systemd.PCRExtend
// (varlink.go) on lib/daemon: socket-activated (also by a connected socket, one per client,
// as upstream's Accept=yes unit and varlinkctl's exec: pass) or on its own socket. See
// docs/pcrextend.md.
package pcrextend

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdpcrextend"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/tpm"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Exit codes.
const (
	ExitSuccess = 0
	ExitFailure = 1
)

// DefaultPCR is the PCR a word goes to without --pcr=: 11, where upstream's boot phases go.
const DefaultPCR = 11

// DefaultIdleExit is how long a process activated on a listening socket waits for clients.
const DefaultIdleExit = 60 * time.Second

// MeasuredMarker is stead's marker of a measured boot (lib/tpm.MeasuredOS).
const MeasuredMarker = tpm.MeasuredMarker

// EventTypes are the names --event-type= takes (the log's names; the Varlink enum has "_"
// where these have "-").
var EventTypes = []string{"phase", "filesystem", "volume-key", "machine-id", "product-id", "keyslot",
	"nvpcr-init", "nvpcr-separator", "dm-verity", "imds-userdata", "os-separator", "login"}

// Options are pcrextend's command line.
type Options struct {
	Root    string
	Version string

	Word      string // the word to measure; "" with no argument
	HaveWord  bool
	PCR       int // DefaultPCR unless set
	NvPCR     string
	Banks     []tpm.Bank
	EventType string // "" means "phase" for a word
	Device    string // --tpm2-device=; "" for $SYSTEMD_TPM2_DEVICE or the default
	Graceful  bool
	IdleExit  time.Duration

	Log *slog.Logger // replaces lib/daemon's logger (tests)
}

// ParseEventType checks an --event-type= name.
func ParseEventType(s string) (string, error) {
	for _, t := range EventTypes {
		if s == t {
			return s, nil
		}
	}
	return "", fmt.Errorf("unknown event type %q", s)
}

// Main runs pcrextend and returns its exit code: without a word it serves
// io.systemd.PCRExtend (on the socket the service manager passed, else on its own socket
// under the root); with one it measures the word.
func Main(ctx context.Context, o Options) int {
	d := daemon.New(daemon.Spec{Name: "pcrextend", Version: o.Version, Root: o.Root, Log: o.Log})
	log := d.Log()
	if o.Device == "" {
		o.Device = os.Getenv("SYSTEMD_TPM2_DEVICE")
	}
	if _, err := tpm.ParseDevice(o.Device); err != nil {
		log.Error(err.Error())
		return ExitFailure
	}
	x := &Extender{Root: o.Root, Device: o.Device, Banks: o.Banks, Log: log}
	if !o.HaveWord {
		return d.ExitCode(d.Run(ctx, daemon.Passive{}, daemon.Socket{
			Path: iosystemdpcrextend.SocketPath, Mode: 0o644, IdleExit: o.IdleExit,
			Interfaces: []varlinkd.Dispatcher{Dispatcher(x)},
		}))
	}
	return measureWord(o, x, log)
}

// measureWord is the command-line mode.
func measureWord(o Options, x *Extender, log *slog.Logger) int {
	if o.NvPCR != "" {
		log.Error("NvPCRs are not supported (stead defines none)", "nvpcr", o.NvPCR)
		return ExitFailure
	}
	if o.Word == "" {
		log.Error("the word to measure is empty")
		return ExitFailure
	}
	if o.Graceful {
		t, err := tpm.Open(o.Device)
		if err != nil {
			log.Info("No complete TPM2 support detected, exiting gracefully.", "err", err)
			return ExitSuccess
		}
		t.Close()
	}
	if measured, why := Measured(o.Root); !measured {
		log.Info("The boot is not measured, skipping userspace measurement too.", "why", why)
		return ExitSuccess
	}
	et := o.EventType
	if et == "" {
		et = "phase"
	}
	if _, err := x.Extend(Request{PCR: o.PCR, Data: []byte(o.Word), EventType: et}); err != nil {
		log.Error("measurement failed", "err", err)
		return ExitFailure
	}
	return ExitSuccess
}

// Measured reports whether the command line measures at all, and why not: lib/tpm's
// MeasuredOS, the rule init's ConditionSecurity=measured-os follows too. Without a TPM the
// measurement itself fails (or, with --graceful, is skipped).
func Measured(root string) (bool, string) { return tpm.MeasuredOS(root) }
