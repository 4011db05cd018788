package fetch

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// testKey generates a signing key; lifetime 0 means it does not expire.
func testKey(t *testing.T, name string, created time.Time, lifetime uint32) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return created }, KeyLifetimeSecs: lifetime}
	e, err := openpgp.NewEntity(name, "", name+"@example.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func publicRing(t *testing.T, armored bool, keys ...*openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := &buf
	var aw interface {
		Write([]byte) (int, error)
		Close() error
	}
	if armored {
		var err error
		aw, err = armor.Encode(w, openpgp.PublicKeyType, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		var err error
		if armored {
			err = k.Serialize(aw)
		} else {
			err = k.Serialize(w)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if armored {
		aw.Close()
	}
	return buf.Bytes()
}

func sign(t *testing.T, k *openpgp.Entity, data []byte, armored bool, at time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	cfg := &packet.Config{Time: func() time.Time { return at }}
	var err error
	if armored {
		err = openpgp.ArmoredDetachSign(&buf, k, bytes.NewReader(data), cfg)
	} else {
		err = openpgp.DetachSign(&buf, k, bytes.NewReader(data), cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestVerifyDetached(t *testing.T) {
	now := time.Now()
	good := testKey(t, "good", now.Add(-time.Hour), 0)
	other := testKey(t, "other", now.Add(-time.Hour), 0)
	data := []byte(strings64 + "  foo_2.raw\n")
	for _, armoredRing := range []bool{false, true} {
		for _, armoredSig := range []bool{false, true} {
			ring := publicRing(t, armoredRing, good)
			sig := sign(t, good, data, armoredSig, now)
			if err := VerifyDetached(bytes.NewReader(ring), data, sig); err != nil {
				t.Errorf("ring armored %v, sig armored %v: good signature refused: %v", armoredRing, armoredSig, err)
			}
			tampered := append(bytes.Clone(data), 'x')
			if err := VerifyDetached(bytes.NewReader(ring), tampered, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("tampered data: %v", err)
			}
			if err := VerifyDetached(bytes.NewReader(ring), data, sign(t, other, data, armoredSig, now)); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("unknown key: %v", err)
			}
		}
	}
	// Two keys in the ring: either signs.
	ring := publicRing(t, true, other, good)
	if err := VerifyDetached(bytes.NewReader(ring), data, sign(t, good, data, false, now)); err != nil {
		t.Errorf("second key of the ring: %v", err)
	}
	// A key that expired an hour ago (made two hours ago, valid for one).
	expired := testKey(t, "expired", now.Add(-2*time.Hour), 3600)
	if err := VerifyDetached(bytes.NewReader(publicRing(t, false, expired)), data, sign(t, expired, data, false, now.Add(-90*time.Minute))); !errors.Is(err, ErrKeyExpired) {
		t.Errorf("expired key: %v", err)
	}
	// Garbage.
	if err := VerifyDetached(bytes.NewReader([]byte("not a key")), data, sign(t, good, data, false, now)); !errors.Is(err, ErrKeyring) {
		t.Errorf("garbage keyring: %v", err)
	}
	if err := VerifyDetached(bytes.NewReader(publicRing(t, false, good)), data, []byte("not a signature")); !errors.Is(err, ErrBadSignature) {
		t.Errorf("garbage signature: %v", err)
	}
}

const strings64 = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
