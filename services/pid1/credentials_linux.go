package pid1

// Service credentials (LoadCredential=, SetCredential=, ImportCredential=):
// collected at start into /run/credentials/UNIT (in the root), passed as
// $CREDENTIALS_DIRECTORY, removed when the service stops.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/creds"
	"github.com/stead-os/stead/lib/unit"
)

// credstoreDirs are searched, in this order, for credentials named by
// LoadCredential=ID[:NAME] and ImportCredential=, after the manager's own.
var credstoreDirs = []string{"/etc/credstore", "/run/credstore", "/usr/lib/credstore"}

// systemCredentialsDir returns where the manager's own credentials are: the
// $CREDENTIALS_DIRECTORY it was started with (a host path, as lib/creds
// reads it), else /run/credentials/@system in the root.
func (m *Manager) systemCredentialsDir() string {
	if d := creds.Dir(); d != "" {
		return d
	}
	return m.hostPath("/run/credentials/@system")
}

// credentialSources lists the directories credentials are looked up in by
// name, most important first (host paths).
func (m *Manager) credentialSources() []string {
	dirs := []string{m.systemCredentialsDir()}
	for _, d := range credstoreDirs {
		dirs = append(dirs, m.hostPath(d))
	}
	return dirs
}

// credentialSocketTimeout bounds a LoadCredential= socket that accepts but
// does not answer (a variable for tests).
var credentialSocketTimeout = 10 * time.Second

// readCredential reads a regular file or, for an AF_UNIX stream socket,
// what a connection to it returns; at most creds.MaxSize bytes.
func readCredential(p string) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	switch {
	case st.Mode().IsRegular():
		f, err := openRegular(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	case st.Mode()&fs.ModeSocket != 0:
		c, err := net.DialTimeout("unix", p, 5*time.Second)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(credentialSocketTimeout))
		r = c
	default:
		return nil, fmt.Errorf("%s: not a regular file or socket", p)
	}
	b, err := io.ReadAll(io.LimitReader(r, creds.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > creds.MaxSize {
		return nil, fmt.Errorf("%s: credential larger than %d bytes", p, creds.MaxSize)
	}
	return b, nil
}

// hasCredentials reports whether s asks for any credential.
func hasCredentials(s *unit.Service) bool {
	return len(s.LoadCredentials)+len(s.SetCredentials)+len(s.ImportCredentials) > 0
}

// collectedCredentials is what collectCredentials returned for one start.
type collectedCredentials struct {
	all map[string][]byte
	err error
}

// collectCredentials gathers the credentials of the service unitName,
// whose settings are s, by name. Priority: LoadCredential=, then
// ImportCredential= (first found wins), then SetCredential= (a default for
// a name nothing else provided). It may block for seconds (a socket that
// does not answer) and runs without m.mu: it reads only its arguments and
// the manager's fixed configuration.
func (m *Manager) collectCredentials(unitName string, s *unit.Service) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, lc := range s.LoadCredentials {
		if filepath.IsAbs(lc.Path) {
			p := m.hostPath(lc.Path)
			st, err := os.Stat(p)
			if err != nil {
				return nil, fmt.Errorf("LoadCredential=%s: %w", lc.ID, err)
			}
			if st.IsDir() {
				// As upstream, every regular file or socket below becomes ID_PATH, PATH
				// relative to the directory with "/" turned into "_" (sub/k is ID_sub_k);
				// symlinks are ignored.
				err := filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
					if err != nil || !(d.Type().IsRegular() || d.Type()&fs.ModeSocket != 0) {
						return err
					}
					rel, err := filepath.Rel(p, fp)
					if err != nil {
						return err
					}
					name := lc.ID + "_" + strings.ReplaceAll(rel, "/", "_")
					if !creds.ValidName(name) {
						return nil
					}
					b, err := readCredential(fp)
					if err != nil {
						return err
					}
					if _, dup := out[name]; !dup {
						out[name] = b
					}
					return nil
				})
				if err != nil {
					return nil, fmt.Errorf("LoadCredential=%s: %w", lc.ID, err)
				}
				continue
			}
			b, err := readCredential(p)
			if err != nil {
				return nil, fmt.Errorf("LoadCredential=%s: %w", lc.ID, err)
			}
			out[lc.ID] = b
			continue
		}
		// A name: the manager's credentials, then the credstores; missing is fine.
		for _, d := range m.credentialSources() {
			b, err := readCredential(filepath.Join(d, lc.Path))
			if err == nil {
				out[lc.ID] = b
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("LoadCredential=%s: %w", lc.ID, err)
			}
		}
	}
	imported := map[string]bool{}
	for _, ic := range s.ImportCredentials {
		for _, d := range m.credentialSources() {
			ents, err := os.ReadDir(d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				name, ok := ic.Match(e.Name())
				if !ok || imported[name] {
					continue
				}
				if _, have := out[name]; have {
					imported[name] = true // LoadCredential= took it
					continue
				}
				b, err := readCredential(filepath.Join(d, e.Name()))
				if err != nil {
					m.log.Warn("cannot import credential, skipping", "unit", unitName, "credential", e.Name(), "err", err)
					continue
				}
				out[name] = b
				imported[name] = true
			}
		}
	}
	for _, sc := range s.SetCredentials {
		if _, have := out[sc.ID]; !have {
			out[sc.ID] = sc.Value
		}
	}
	return out, nil
}

// writeCredentialData writes one credential's bytes into its new file: a
// variable so tests can make it fail part-way (ENOSPC).
var writeCredentialData = func(f *os.File, b []byte) error {
	_, err := f.Write(b)
	return err
}

// setupCredentials writes the credentials collected for us into a fresh
// /run/credentials/UNIT (mode 0500, files 0400, owned by the service's
// user) and remembers it for $CREDENTIALS_DIRECTORY; a collection error is
// returned as it is. Units without any credential setting get none. If
// anything fails, nothing written is left behind. m.mu held.
func (m *Manager) setupCredentials(us *unitState, cc collectedCredentials) error {
	us.svc.ex.credsDir = ""
	if !hasCredentials(us.u.Service) {
		return nil
	}
	if cc.err != nil {
		return cc.err
	}
	dir := m.hostPath(filepath.Join("/run/credentials", us.u.Name))
	if err := removeCredentialsDir(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	names, err := writeCredentials(dir, cc.all, us.svc.ex.id)
	if err != nil {
		_ = removeCredentialsDir(dir) // a partial file or set must not reach the next start or anyone else
		return fmt.Errorf("credentials in %s: %w", dir, err)
	}
	us.svc.ex.credsDir = dir
	m.log.Debug("credentials passed", "unit", us.u.Name, "names", strings.Join(names, ","))
	return nil
}

// writeCredentials fills the new directory dir with one file per
// credential, then gives dir its final owner and mode, and returns the
// names written.
func writeCredentials(dir string, all map[string][]byte, id identity) ([]string, error) {
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := writeCredential(filepath.Join(dir, n), all[n], id); err != nil {
			return nil, fmt.Errorf("credential %s: %w", n, err)
		}
	}
	if id.set {
		if err := os.Lchown(dir, int(id.uid), int(id.gid)); err != nil {
			return nil, err
		}
	}
	return names, os.Chmod(dir, 0o500)
}

// writeCredential creates the file p (which must not exist) with b, mode
// 0400 and, with User=/Group=, id's owner.
func writeCredential(p string, b []byte, id identity) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o400)
	if err != nil {
		return err
	}
	err = writeCredentialData(f, b)
	if err == nil {
		err = f.Chmod(0o400) // whatever the umask
	}
	if err == nil && id.set {
		err = f.Chown(int(id.uid), int(id.gid))
	}
	if cerr := f.Close(); err == nil {
		err = cerr // a delayed write error shows here
	}
	return err
}

// removeCredentialsDir deletes a credentials directory and what is in it.
func removeCredentialsDir(dir string) error {
	_ = os.Chmod(dir, 0o700) // RemoveAll needs to write into it when we are not root
	return os.RemoveAll(dir)
}

// removeCredentials deletes the credentials directory of us. m.mu held.
func (m *Manager) removeCredentials(us *unitState) {
	if us.svc.ex.credsDir == "" {
		return
	}
	_ = removeCredentialsDir(us.svc.ex.credsDir)
	us.svc.ex.credsDir = ""
}
