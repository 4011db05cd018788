package pcrextend

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/stead-os/stead/lib/api/iosystemdpcrextend"
	"github.com/stead-os/stead/lib/tpm"
	"github.com/stead-os/stead/lib/varlinkd"
	"golang.org/x/sys/unix"
)

// service implements io.systemd.PCRExtend on an Extender.
type service struct{ x *Extender }

// Dispatcher is io.systemd.PCRExtend served by x.
func Dispatcher(x *Extender) varlinkd.Dispatcher {
	return iosystemdpcrextend.VarlinkNew(&service{x})
}

// Extend checks the parameters as upstream does (the parameter named in InvalidParameter
// included), then measures. Only root (or our own uid) may measure.
func (s *service) Extend(ctx context.Context, c iosystemdpcrextend.VarlinkCall, pcr *int64, nvpcr *string, text *string, data *string, secret *string, eventType *iosystemdpcrextend.EventType) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	switch {
	case pcr != nil && nvpcr != nil:
		return varlinkd.ReplyInvalidParameter(ctx, c.Call, "nvpcr")
	case pcr == nil && nvpcr == nil, pcr != nil && (*pcr < 0 || *pcr >= tpm.NumPCRs):
		return varlinkd.ReplyInvalidParameter(ctx, c.Call, "pcr")
	case text != nil && data != nil:
		return varlinkd.ReplyInvalidParameter(ctx, c.Call, "data")
	}
	var req Request
	switch {
	case data != nil:
		b, err := decodeBase64(*data)
		if err != nil || len(b) == 0 {
			return varlinkd.ReplyInvalidParameter(ctx, c.Call, "data")
		}
		req.Data = b
	case text == nil || *text == "":
		return varlinkd.ReplyInvalidParameter(ctx, c.Call, "text")
	default:
		req.Data = []byte(*text)
	}
	if secret != nil {
		b, err := decodeBase64(*secret)
		if err != nil || len(b) == 0 {
			return varlinkd.ReplyInvalidParameter(ctx, c.Call, "secret")
		}
		req.Secret = b
	}
	if eventType != nil {
		req.EventType = strings.ReplaceAll(string(*eventType), "_", "-")
	}
	if nvpcr != nil {
		// stead defines no NvPCRs (upstream's come from /usr/lib/nvpcr/*.nvpcr): every name
		// is unknown.
		return c.ReplyNoSuchNvPCR(ctx)
	}
	req.PCR = int(*pcr)
	if _, err := s.x.Extend(req); err != nil {
		s.x.log().Error("measurement failed", "pcr", req.PCR, "err", err)
		if errors.Is(err, ErrTPM) {
			// What upstream answers when it cannot talk to its TPM.
			return varlinkd.ReplyErrno(ctx, c.Call, unix.ENOTRECOVERABLE)
		}
		return varlinkd.ReplyErrno(ctx, c.Call, err)
	}
	return c.ReplyExtend(ctx)
}

// decodeBase64 takes standard Base64, padded or not, ignoring whitespace.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}
