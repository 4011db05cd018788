// Package luo hands a service manager's fd stores over a kexec reboot through the kernel's
// Live Update Orchestrator (/dev/liveupdate, CONFIG_LIVEUPDATE on top of
// CONFIG_KEXEC_HANDOVER), the way systemd does: one session named "systemd" holds every
// preserved fd under a token 1, 2, …; token 0 is a sealed memfd named "luo-mapping" whose JSON
// says which unit each token belongs to and under which FDNAME=. LUO sessions a service
// keeps in its fd store are preserved by the kernel on their own (by name) and recorded in
// the mapping as such; one named "systemd" would collide with ours and is refused.
//
// The kernel interface is behind Device so that the handover is tested against Fake; Open
// returns the real device (dev_linux.go). See docs/init.md, "Kexec".
package luo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// SessionName is the name of the session the service manager owns.
const SessionName = "systemd"

// MappingName is the memfd name of the mapping preserved under token 0.
const MappingName = "luo-mapping"

// MappingVersion is the version of the mapping's JSON.
const MappingVersion = 1

// Device is /dev/liveupdate: sessions are created before a kexec and retrieved after it.
type Device interface {
	// CreateSession creates an outgoing session (LIVEUPDATE_IOCTL_CREATE_SESSION).
	CreateSession(name string) (Session, error)
	// RetrieveSession returns an incoming session preserved by the previous kernel
	// (LIVEUPDATE_IOCTL_RETRIEVE_SESSION); an error wrapping os.ErrNotExist when none.
	RetrieveSession(name string) (Session, error)
	// SessionOf reports whether fd is a LUO session, and its name.
	SessionOf(fd int) (name string, ok bool)
	Close() error
}

// Session is one LUO session.
type Session interface {
	// PreserveFD marks fd for preservation under token (LIVEUPDATE_SESSION_PRESERVE_FD).
	PreserveFD(fd int, token uint64) error
	// RetrieveFD returns a new fd for what was preserved under token
	// (LIVEUPDATE_SESSION_RETRIEVE_FD).
	RetrieveFD(token uint64) (int, error)
	// Finish ends an incoming session once everything was retrieved
	// (LIVEUPDATE_SESSION_FINISH).
	Finish() error
	// FD is the session's own fd: it must stay open until the kexec, and a retrieved
	// service session is handed back as it.
	FD() int
	Close() error
}

// Entry is one stored fd in the mapping: Type "fd" with its Token, or "luo_session" with
// the SessionName the kernel preserved it under.
type Entry struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Token       uint64 `json:"token,omitempty"`
	SessionName string `json:"sessionName,omitempty"`
}

// Unit is what the mapping says about one unit.
type Unit struct {
	FDStore []Entry `json:"fdstore"`
}

// Mapping is the JSON under token 0.
type Mapping struct {
	Version int             `json:"version"`
	State   json.RawMessage `json:"state,omitempty"`
	Units   map[string]Unit `json:"units"`
}

// FD is one fd of a unit's store, by its FDNAME=.
type FD struct {
	Name string
	FD   int
}

// Problem is an fd that could not be preserved or retrieved; the rest went on.
type Problem struct {
	Unit, Name string
	Err        error
}

func (p Problem) Error() string { return fmt.Sprintf("%s: fd %q: %v", p.Unit, p.Name, p.Err) }

// Preserve creates the "systemd" session on dev and preserves every fd of units (by unit
// name, in store order) and state (JSON, e.g. the manager's counters) in it. The fds stay
// the caller's, except a service's own session named "systemd", which is refused and closed.
// What cannot be preserved (that, an fd type the kernel refuses) is left out and reported in
// problems. The returned session must stay open until the kexec.
func Preserve(dev Device, state any, units map[string][]FD) (s Session, problems []Problem, err error) {
	st, err := json.Marshal(state)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(units))
	for n := range units {
		names = append(names, n)
	}
	sort.Strings(names)
	// A service's own session called "systemd" is refused first, and closed: while it is
	// open, the kernel would not let us create ours.
	kept := map[string][]FD{}
	for _, n := range names {
		for _, f := range units[n] {
			if sess, ok := dev.SessionOf(f.FD); ok && sess == SessionName {
				problems = append(problems, Problem{n, f.Name, errors.New(`a service's LUO session may not be named "systemd": closed`)})
				unix.Close(f.FD)
				continue
			}
			kept[n] = append(kept[n], f)
		}
	}
	s, err = dev.CreateSession(SessionName)
	if err != nil {
		return nil, problems, fmt.Errorf("creating LUO session %q: %w", SessionName, err)
	}
	mp := Mapping{Version: MappingVersion, State: st, Units: map[string]Unit{}}
	token := uint64(0)
	for _, n := range names {
		var u Unit
		for _, f := range kept[n] {
			if sess, ok := dev.SessionOf(f.FD); ok {
				u.FDStore = append(u.FDStore, Entry{Type: "luo_session", Name: f.Name, SessionName: sess})
				continue
			}
			if err := s.PreserveFD(f.FD, token+1); err != nil {
				problems = append(problems, Problem{n, f.Name, err})
				continue
			}
			token++
			u.FDStore = append(u.FDStore, Entry{Type: "fd", Name: f.Name, Token: token})
		}
		if len(u.FDStore) > 0 {
			mp.Units[n] = u
		}
	}
	mfd, err := mappingMemfd(mp)
	if err != nil {
		s.Close()
		return nil, problems, err
	}
	defer unix.Close(mfd)
	if err := s.PreserveFD(mfd, 0); err != nil {
		s.Close()
		return nil, problems, fmt.Errorf("preserving the mapping: %w", err)
	}
	return s, problems, nil
}

// mappingMemfd writes mp into a sealed memfd named MappingName.
func mappingMemfd(mp Mapping) (int, error) {
	b, err := json.Marshal(mp)
	if err != nil {
		return -1, err
	}
	fd, err := unix.MemfdCreate(MappingName, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, err
	}
	for off := 0; off < len(b); {
		n, err := unix.Pwrite(fd, b[off:], int64(off))
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		off += n
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Retrieved is what a previous boot handed over.
type Retrieved struct {
	State json.RawMessage
	Units map[string][]FD // fds now ours, by unit, in store order
}

// Retrieve takes the "systemd" session the previous kernel preserved, if any (found false
// when there is none), returns its state and every fd by unit, and finishes the session.
// Entries that cannot be retrieved are reported in problems.
func Retrieve(dev Device) (r Retrieved, found bool, problems []Problem, err error) {
	s, err := dev.RetrieveSession(SessionName)
	if errors.Is(err, os.ErrNotExist) {
		return r, false, nil, nil
	}
	if err != nil {
		return r, false, nil, fmt.Errorf("retrieving LUO session %q: %w", SessionName, err)
	}
	defer s.Close()
	mfd, err := s.RetrieveFD(0)
	if err != nil {
		return r, true, nil, fmt.Errorf("retrieving the mapping: %w", err)
	}
	mp, err := readMapping(mfd)
	unix.Close(mfd)
	if err != nil {
		return r, true, nil, err
	}
	r.State, r.Units = mp.State, map[string][]FD{}
	for unit, u := range mp.Units {
		for _, e := range u.FDStore {
			var fd int
			switch e.Type {
			case "fd":
				if e.Token == 0 {
					err = errors.New("token 0 is the mapping")
					break
				}
				fd, err = s.RetrieveFD(e.Token)
			case "luo_session":
				var ss Session
				if e.SessionName == SessionName {
					err = errors.New(`a service's LUO session may not be named "systemd"`)
					break
				}
				if ss, err = dev.RetrieveSession(e.SessionName); err == nil {
					fd = ss.FD()
				}
			default:
				err = fmt.Errorf("unknown entry type %q", e.Type)
			}
			if err != nil {
				problems = append(problems, Problem{unit, e.Name, err})
				continue
			}
			r.Units[unit] = append(r.Units[unit], FD{Name: e.Name, FD: fd})
		}
	}
	if err := s.Finish(); err != nil {
		problems = append(problems, Problem{"", SessionName, fmt.Errorf("finishing the session: %w", err)})
	}
	return r, true, problems, nil
}

// readMapping reads and checks the mapping memfd.
func readMapping(fd int) (Mapping, error) {
	var mp Mapping
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return mp, err
	}
	if st.Size > 64<<20 {
		return mp, fmt.Errorf("mapping of %d bytes is too large", st.Size)
	}
	b := make([]byte, st.Size)
	for off := 0; off < len(b); {
		n, err := unix.Pread(fd, b[off:], int64(off))
		if err != nil {
			return mp, err
		}
		if n == 0 {
			return mp, errors.New("mapping truncated")
		}
		off += n
	}
	return ParseMapping(b)
}

// ParseMapping parses and checks a mapping.
func ParseMapping(b []byte) (Mapping, error) {
	var mp Mapping
	if err := json.Unmarshal(b, &mp); err != nil {
		return mp, fmt.Errorf("mapping: %w", err)
	}
	if mp.Version != MappingVersion {
		return mp, fmt.Errorf("mapping version %d, want %d", mp.Version, MappingVersion)
	}
	return mp, nil
}
