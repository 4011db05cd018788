package pid1

// System credentials from SMBIOS OEM strings and the kernel command line:
// what upstream's PID 1 imports into /run/credentials/@system at boot, so
// that units can take them with ImportCredential=, LoadCredential=ID and
// ConditionCredential=.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stead-os/stead/lib/creds"
	"github.com/stead-os/stead/lib/dmi"
	"github.com/stead-os/stead/lib/kcmdline"
)

// systemCredential is one system credential, decoded, and where it came
// from ("smbios" or "kernel command line").
type systemCredential struct {
	name   string
	value  []byte
	source string
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
			if data, err = creds.DecodeBase64(value); err != nil {
				warn("cannot decode binary credential, ignoring", "name", name, "err", err)
				continue
			}
		}
		out = append(out, systemCredential{name, data, "kernel command line"})
	}
	return out
}

// smbiosCredentials returns the credentials in the SMBIOS OEM strings
// (type 11 structures under ROOT/sys/firmware/dmi/entries), in order:
// io.systemd.credential:NAME=VALUE and io.systemd.credential.binary:NAME=BASE64.
// Other OEM strings are ignored; malformed credential strings are reported
// through warn and skipped. As upstream, nothing is read in a container
// (its /sys is not its own firmware's) nor in a confidential VM (whose
// firmware is not trusted).
func smbiosCredentials(root string, pid1 bool, warn func(msg string, args ...any)) []systemCredential {
	if detectVirtualization(root, pid1).container || confidentialVirtualization(root) != "none" {
		return nil
	}
	strs, err := dmi.ReadOEMStrings(root, creds.MaxSize+1024)
	if err != nil {
		warn("cannot read SMBIOS OEM strings, ignoring the rest", "err", err)
	}
	var out []systemCredential
	for _, s := range strs {
		name, value, err := creds.ParseOEMString(s)
		if errors.Is(err, creds.ErrNotCredential) {
			continue
		}
		if err != nil {
			warn("bad credential in SMBIOS OEM string, ignoring", "err", err)
			continue
		}
		out = append(out, systemCredential{name, value, "smbios"})
	}
	return out
}

// importSystemCredentials writes the SMBIOS OEM strings' and the kernel
// command line's credentials, in that order, to
// ROOT/run/credentials/@system (mode 0700, files 0400). As upstream: only
// when the manager was not given a $CREDENTIALS_DIRECTORY; a credential
// that already exists there (or came earlier, so SMBIOS before the
// command line) wins; together they may hold at most creds.MaxSize bytes.
// In host mode over the real root nothing is written: the host's /run is
// not ours.
func (m *Manager) importSystemCredentials() {
	if creds.Dir() != "" || (!m.cfg.PID1 && filepath.Clean(m.cfg.Root) == "/") {
		return
	}
	list := smbiosCredentials(m.cfg.Root, m.cfg.PID1, m.log.Warn)
	params, err := kcmdline.Load(m.cfg.Root)
	if err != nil {
		m.log.Warn("cannot read the kernel command line for credentials", "err", err)
	}
	list = append(list, kernelCredentials(params, m.log.Warn)...)
	if len(list) == 0 {
		return
	}
	dir := m.hostPath("/run/credentials/@system")
	// /run/credentials itself stays 0755: services' own credential
	// directories are created below it and must be reachable by User=.
	err = os.MkdirAll(filepath.Dir(dir), 0o755)
	if err == nil {
		if err = os.Mkdir(dir, 0o700); errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	if err != nil {
		m.log.Warn("cannot create the system credentials directory", "err", err)
		return
	}
	_ = os.Chmod(dir, 0o700) // it may have existed: secrets are for root only
	total, n := 0, map[string]int{}
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
		n[c.source]++
	}
	for _, src := range []string{"smbios", "kernel command line"} {
		if n[src] > 0 {
			m.log.Info("imported system credentials", "source", src, "count", n[src])
		}
	}
}
