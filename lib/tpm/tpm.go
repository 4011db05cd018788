// Package tpm talks to a TPM 2.0 through go-tpm's tpm2 API: it opens one by the names
// upstream's tools accept (a device node, a unix socket speaking raw TPM commands, and the
// tpm2-tss TCTI forms device:, swtpm: and mssim:), lists the active PCR banks, extends every
// active bank of a PCR in one command and reads PCRs. See docs/pcrextend.md.
//
// Everything here is pure Go (no TSS library, no cgo).
package tpm

import (
	"crypto"
	"crypto/hmac"
	_ "crypto/sha1" // registered for crypto.SHA1
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// DefaultDevice is the device used when none is named, as tpm2-tss's default TCTI.
const DefaultDevice = "/dev/tpmrm0"

// NumPCRs is the number of PCRs every PC-client TPM has (0…23).
const NumPCRs = 24

// ErrNoTPM is returned (wrapped) by Open when there is no TPM at the place named: no device
// node, no socket, nobody listening.
var ErrNoTPM = errors.New("no TPM 2.0 device found")

// Bank is one PCR bank: the hash algorithm its PCRs use.
type Bank struct {
	Alg tpm2.TPMAlgID
}

// Known banks, in the order upstream lists them in its event log.
var (
	SHA1   = Bank{tpm2.TPMAlgSHA1}
	SHA256 = Bank{tpm2.TPMAlgSHA256}
	SHA384 = Bank{tpm2.TPMAlgSHA384}
	SHA512 = Bank{tpm2.TPMAlgSHA512}
)

var banks = []struct {
	b    Bank
	name string
	h    crypto.Hash
}{
	{SHA1, "sha1", crypto.SHA1},
	{SHA256, "sha256", crypto.SHA256},
	{SHA384, "sha384", crypto.SHA384},
	{SHA512, "sha512", crypto.SHA512},
}

// ParseBank takes a bank's name as upstream's --bank= does ("sha256", "SHA256").
func ParseBank(s string) (Bank, error) {
	for _, b := range banks {
		if strings.EqualFold(s, b.name) {
			return b.b, nil
		}
	}
	return Bank{}, fmt.Errorf("unknown PCR bank %q (sha1, sha256, sha384, sha512)", s)
}

// String is the bank's name in upstream's event log ("sha256").
func (b Bank) String() string {
	for _, k := range banks {
		if k.b == b {
			return k.name
		}
	}
	return fmt.Sprintf("alg-0x%04x", uint16(b.Alg))
}

// Hash is the bank's hash function; ok is false for algorithms Go does not know here (SM3,
// SHA3), whose banks Extend cannot fill.
func (b Bank) Hash() (h crypto.Hash, ok bool) {
	for _, k := range banks {
		if k.b == b {
			return k.h, true
		}
	}
	return 0, false
}

// Digest hashes data with the bank's algorithm; with a non-empty secret it is the HMAC of data
// keyed by the secret instead.
func (b Bank) Digest(data, secret []byte) ([]byte, error) {
	h, ok := b.Hash()
	if !ok {
		return nil, fmt.Errorf("PCR bank %s: hash algorithm not supported", b)
	}
	if len(secret) > 0 {
		m := hmac.New(h.New, secret)
		m.Write(data)
		return m.Sum(nil), nil
	}
	d := h.New()
	d.Write(data)
	return d.Sum(nil), nil
}

// TPM is an open TPM. Its methods may be called from several goroutines: commands are sent
// one at a time.
type TPM struct {
	mu sync.Mutex
	t  transport.TPM
	c  func() error
}

// New wraps a go-tpm transport (tests use go-tpm's simulator); closing the TPM calls closer
// unless it is nil.
func New(t transport.TPM, closer func() error) *TPM { return &TPM{t: t, c: closer} }

// Close closes the connection to the TPM.
func (t *TPM) Close() error {
	if t.c == nil {
		return nil
	}
	return t.c()
}

// Send passes one raw command to the TPM (go-tpm's transport.TPM), serialised with the
// other methods.
func (t *TPM) Send(cmd []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.t.Send(cmd)
}

// startup sends TPM2_Startup(CLEAR) if the TPM says it has not been started (TPM_RC_INITIALIZE),
// as tpm2-tss does on first use; a TPM already started is left alone.
func (t *TPM) startup() error {
	_, err := t.capPCRs()
	if !errors.Is(err, tpm2.TPMRCInitialize) {
		return err
	}
	if _, err := (tpm2.Startup{StartupType: tpm2.TPMSUClear}).Execute(t); err != nil && !errors.Is(err, tpm2.TPMRCInitialize) {
		return fmt.Errorf("TPM2_Startup: %w", err)
	}
	return nil
}

func (t *TPM) capPCRs() (*tpm2.TPMLPCRSelection, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, Property: 0, PropertyCount: 1}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_GetCapability(PCRs): %w", err)
	}
	return rsp.CapabilityData.Data.AssignedPCR()
}

// Banks lists the active PCR banks (those with at least one PCR allocated), in the TPM's
// order.
func (t *TPM) Banks() ([]Bank, error) {
	sel, err := t.capPCRs()
	if err != nil {
		return nil, err
	}
	var out []Bank
	for _, s := range sel.PCRSelections {
		for _, b := range s.PCRSelect {
			if b != 0 {
				out = append(out, Bank{s.Hash})
				break
			}
		}
	}
	return out, nil
}

// Measurement is what Extend puts into one bank.
type Measurement struct {
	Bank   Bank
	Digest []byte
}

// Measure computes data's digest (or HMAC, with a secret) for each bank.
func Measure(data, secret []byte, bs []Bank) ([]Measurement, error) {
	out := make([]Measurement, 0, len(bs))
	for _, b := range bs {
		d, err := b.Digest(data, secret)
		if err != nil {
			return nil, err
		}
		out = append(out, Measurement{b, d})
	}
	return out, nil
}

// Extend extends PCR pcr with the given digests, all banks in one TPM2_PCR_Extend.
func (t *TPM) Extend(pcr int, ms []Measurement) error {
	if pcr < 0 || pcr >= NumPCRs {
		return fmt.Errorf("PCR %d out of range 0…%d", pcr, NumPCRs-1)
	}
	var dv tpm2.TPMLDigestValues
	for _, m := range ms {
		dv.Digests = append(dv.Digests, tpm2.TPMTHA{HashAlg: m.Bank.Alg, Digest: m.Digest})
	}
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests:   dv,
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("TPM2_PCR_Extend(%d): %w", pcr, err)
	}
	return nil
}

// Read returns the value of PCR pcr in bank b.
func (t *TPM) Read(pcr int, b Bank) ([]byte, error) {
	if pcr < 0 || pcr >= NumPCRs {
		return nil, fmt.Errorf("PCR %d out of range 0…%d", pcr, NumPCRs-1)
	}
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: b.Alg, PCRSelect: tpm2.PCClientCompatible.PCRs(uint(pcr))}}}
	rsp, err := tpm2.PCRRead{PCRSelectionIn: sel}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_PCR_Read(%d, %s): %w", pcr, b, err)
	}
	if len(rsp.PCRValues.Digests) != 1 {
		return nil, fmt.Errorf("TPM2_PCR_Read(%d, %s): PCR bank not active", pcr, b)
	}
	return rsp.PCRValues.Digests[0].Buffer, nil
}
