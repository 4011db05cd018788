package pid1

// System credentials from the kernel command line: what upstream's PID 1
// imports into /run/credentials/@system at boot, so that units can take
// them with ImportCredential=, LoadCredential=ID and ConditionCredential=.

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stead-os/stead/lib/creds"
	"github.com/stead-os/stead/lib/kcmdline"
)

// systemCredential is one systemd.set_credential= or
// systemd.set_credential_binary= assignment, decoded.
type systemCredential struct {
	name  string
	value []byte
}

// kernelCredentials returns the credentials the command line sets, in
// order: systemd.set_credential=ID:VALUE (VALUE verbatim) and
// systemd.set_credential_binary=ID:BASE64. Assignments without ':', with
// an invalid name or with bad base64 are reported through warn and
// skipped, as upstream skips them.
func kernelCredentials(params []kcmdline.Param, warn func(msg string, args ...any)) []systemCredential {
	var out []systemCredential
	for _, p := range params {
		binary := kcmdline.KeyEqual(p.Key, "systemd.set_credential_binary")
		if !binary && !kcmdline.KeyEqual(p.Key, "systemd.set_credential") {
			continue
		}
		name, value, ok := strings.Cut(p.Value, ":")
		if !ok || !p.HasValue {
			warn("credential assignment on the kernel command line lacks ':', ignoring", "key", p.Key)
			continue
		}
		if !creds.ValidName(name) {
			warn("invalid credential name on the kernel command line, ignoring", "name", name)
			continue
		}
		data := []byte(value)
		if binary {
			var err error
			if data, err = decodeBase64(value); err != nil {
				warn("cannot decode binary credential, ignoring", "name", name, "err", err)
				continue
			}
		}
		out = append(out, systemCredential{name, data})
	}
	return out
}

// decodeBase64 accepts padded and unpadded standard base64.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// importSystemCredentials writes the kernel command line's credentials to
// ROOT/run/credentials/@system (mode 0700, files 0400). As upstream: only
// when the manager was not given a $CREDENTIALS_DIRECTORY; a credential
// that already exists there (or came earlier on the command line) wins;
// together they may hold at most creds.MaxSize bytes. In host mode over
// the real root nothing is written: the host's /run is not ours.
func (m *Manager) importSystemCredentials() {
	if creds.Dir() != "" || (!m.cfg.PID1 && filepath.Clean(m.cfg.Root) == "/") {
		return
	}
	params, err := kcmdline.Load(m.cfg.Root)
	if err != nil {
		m.log.Warn("cannot read the kernel command line for credentials", "err", err)
		return
	}
	list := kernelCredentials(params, m.log.Warn)
	if len(list) == 0 {
		return
	}
	dir := m.hostPath("/run/credentials/@system")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		m.log.Warn("cannot create the system credentials directory", "err", err)
		return
	}
	_ = os.Chmod(dir, 0o700) // it may have existed: secrets are for root only
	total, n := 0, 0
	for _, c := range list {
		if total+len(c.value) > creds.MaxSize {
			m.log.Warn("system credentials too large, ignoring", "name", c.name)
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, c.name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
		if errors.Is(err, fs.ErrExist) {
			m.log.Debug("system credential set twice, keeping the first", "name", c.name)
			continue
		}
		if err != nil {
			m.log.Warn("cannot write system credential", "name", c.name, "err", err)
			continue
		}
		_, err = f.Write(c.value)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(filepath.Join(dir, c.name))
			m.log.Warn("cannot write system credential", "name", c.name, "err", err)
			continue
		}
		total += len(c.value)
		n++
	}
	if n > 0 {
		m.log.Info("imported system credentials from the kernel command line", "count", n)
	}
}
