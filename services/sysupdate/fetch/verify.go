package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
)

// Errors of VerifyDetached, wrapped with details; test them with errors.Is.
var (
	ErrUnknownKey   = errors.New("fetch: signature made by a key not in the keyring")
	ErrBadSignature = errors.New("fetch: bad signature")
	ErrKeyExpired   = errors.New("fetch: signing key expired")
	ErrKeyRevoked   = errors.New("fetch: signing key revoked")
	ErrSigExpired   = errors.New("fetch: signature expired")
	ErrKeyring      = errors.New("fetch: unusable keyring")
)

var armorPrefix = []byte("-----BEGIN PGP")

// VerifyDetached checks that sig is a valid detached OpenPGP signature of data by a key in
// keyring (sysupdate's import-pubring.pgp). Keyring and signature may each be armored or
// binary. Unlike gpgv, which upstream uses and which only warns about an expired key, a
// signature by an expired or revoked key is refused.
func VerifyDetached(keyring io.Reader, data, sig []byte) error {
	raw, err := io.ReadAll(keyring)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeyring, err)
	}
	var keys openpgp.EntityList
	if bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), armorPrefix) {
		keys, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(raw))
	} else {
		keys, err = openpgp.ReadKeyRing(bytes.NewReader(raw))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeyring, err)
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w: no keys", ErrKeyring)
	}
	if bytes.HasPrefix(bytes.TrimLeft(sig, " \t\r\n"), armorPrefix) {
		_, err = openpgp.CheckArmoredDetachedSignature(keys, bytes.NewReader(data), bytes.NewReader(sig), nil)
	} else {
		_, err = openpgp.CheckDetachedSignature(keys, bytes.NewReader(data), bytes.NewReader(sig), nil)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return fmt.Errorf("%w: %w", ErrUnknownKey, err)
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return fmt.Errorf("%w: %w", ErrKeyExpired, err)
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return fmt.Errorf("%w: %w", ErrKeyRevoked, err)
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		return fmt.Errorf("%w: %w", ErrSigExpired, err)
	default:
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
}
