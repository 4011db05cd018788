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

	"github.com/stead-os/stead/lib/creds"
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
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
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

// collectCredentials gathers a service's credentials by name. Priority:
// LoadCredential=, then ImportCredential= (first found wins), then
// SetCredential= (a default for a name nothing else provided).
func (m *Manager) collectCredentials(us *unitState) (map[string][]byte, error) {
	s := us.u.Service
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
					m.log.Warn("cannot import credential, skipping", "unit", us.u.Name, "credential", e.Name(), "err", err)
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

// setupCredentials writes us's credentials into a fresh
// /run/credentials/UNIT (mode 0500, files 0400, owned by the service's
// user) and remembers it for $CREDENTIALS_DIRECTORY. Units without any
// credential setting get none. m.mu held.
func (m *Manager) setupCredentials(us *unitState) error {
	s := us.u.Service
	us.ex.credsDir = ""
	if len(s.LoadCredentials)+len(s.SetCredentials)+len(s.ImportCredentials) == 0 {
		return nil
	}
	all, err := m.collectCredentials(us)
	if err != nil {
		return err
	}
	dir := m.hostPath(filepath.Join("/run/credentials", us.u.Name))
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	id := us.ex.id
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, all[n], 0o400); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o400); err != nil {
			return err
		}
		if id.set {
			if err := os.Lchown(p, int(id.uid), int(id.gid)); err != nil {
				return err
			}
		}
	}
	if id.set {
		if err := os.Lchown(dir, int(id.uid), int(id.gid)); err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		return err
	}
	us.ex.credsDir = dir
	m.log.Debug("credentials passed", "unit", us.u.Name, "names", strings.Join(names, ","))
	return nil
}

// removeCredentials deletes the credentials directory of us. m.mu held.
func (m *Manager) removeCredentials(us *unitState) {
	if us.ex.credsDir == "" {
		return
	}
	_ = os.Chmod(us.ex.credsDir, 0o700) // RemoveAll needs to write into it when we are not root
	_ = os.RemoveAll(us.ex.credsDir)
	us.ex.credsDir = ""
}
