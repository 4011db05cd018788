package pcrextend

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/stead-os/stead/lib/tpm"
	"golang.org/x/sys/unix"
)

// Request is one measurement.
type Request struct {
	PCR       int
	Data      []byte // what is measured (a text's UTF-8 bytes)
	Secret    []byte // when set, the HMAC of Data keyed by it is measured
	EventType string // the log's name of the event type ("phase", "imds-userdata"); "" for none
}

// Extender measures into the TPM, one measurement at a time, and logs each one.
type Extender struct {
	Root   string     // --root: where the log and /proc are
	Device string     // the TPM (tpm.ParseDevice); "" for the default
	Banks  []tpm.Bank // the banks to extend; nil for every active one
	Log    *slog.Logger

	mu sync.Mutex // one measurement at a time in this process; the log's flock across processes
}

// ErrTPM wraps failures to reach the TPM (as opposed to invalid requests).
var ErrTPM = errors.New("TPM unavailable")

// Extend measures req: it locks the log, extends every selected bank of the PCR with the
// data's digest in one TPM2_PCR_Extend, appends the log entry and unlocks. A log that cannot
// be written is logged and does not fail the measurement (the PCR has changed already).
func (e *Extender) Extend(req Request) ([]tpm.Measurement, error) {
	if req.PCR < 0 || req.PCR >= tpm.NumPCRs {
		return nil, fmt.Errorf("PCR %d out of range 0…%d", req.PCR, tpm.NumPCRs-1)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	lf, err := openLog(e.Root)
	if err != nil {
		e.log().Warn("cannot open the measurement log, measuring without it", "log", LogPath, "err", err)
	} else {
		defer lf.Close()
	}
	t, err := tpm.Open(e.Device)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTPM, err)
	}
	defer t.Close()
	bs := e.Banks
	if len(bs) == 0 {
		if bs, err = t.Banks(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTPM, err)
		}
		if len(bs) == 0 {
			return nil, fmt.Errorf("%w: the TPM has no active PCR bank", ErrTPM)
		}
	}
	ms, err := tpm.Measure(req.Data, req.Secret, bs)
	if err != nil {
		return nil, err
	}
	if err := t.Extend(req.PCR, ms); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTPM, err)
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Bank.String()
	}
	e.log().Info(fmt.Sprintf("Extended PCR index %d with '%s' (banks %s).", req.PCR, Escape(req.Data), strings.Join(names, ", ")))
	if lf != nil {
		if err := lf.append(e.record(req, ms)); err != nil {
			e.log().Warn("cannot write the measurement log", "log", LogPath, "err", err)
		}
	}
	return ms, nil
}

func (e *Extender) record(req Request, ms []tpm.Measurement) *Record {
	r := &Record{PCR: req.PCR, ContentType: "systemd", Content: Content{
		String: Escape(req.Data), BootID: bootID(e.Root), Timestamp: sinceBoot(), EventType: req.EventType,
	}}
	for _, m := range ms {
		r.Digests = append(r.Digests, Digest{HashAlg: m.Bank.String(), Digest: hex.EncodeToString(m.Digest)})
	}
	return r
}

func (e *Extender) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

// bootID is the kernel's boot id as 32 hex digits, "" when unknown.
func bootID(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "proc/sys/kernel/random/boot_id"))
	if err != nil && root != "/" && root != "" {
		b, err = os.ReadFile("/proc/sys/kernel/random/boot_id")
	}
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
}

// sinceBoot is CLOCK_BOOTTIME in microseconds.
func sinceBoot() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}
