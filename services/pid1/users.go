package pid1

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// identity is who a service's processes run as: User=, Group= and
// SupplementaryGroups= resolved against the root's /etc/passwd and
// /etc/group.
type identity struct {
	set         bool // User= or Group= was given: own the directories, set $HOME etc.
	change      bool // set, or SupplementaryGroups= given: switch credentials at fork
	user        string
	uid, gid    uint32
	groups      []uint32 // supplementary groups
	home, shell string
}

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name        string
	uid, gid    uint32
	home, shell string
}

// groupEntry is one line of /etc/group.
type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// parsePasswd reads passwd(5) text; malformed lines are skipped.
func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 7 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid), home: f[5], shell: f[6]})
	}
	return out
}

// parseGroup reads group(5) text; malformed lines are skipped.
func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 4 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		var members []string
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				members = append(members, m)
			}
		}
		out = append(out, groupEntry{name: f[0], gid: uint32(gid), members: members})
	}
	return out
}

// numericID parses a decimal uid/gid; 4294967295 ((uid_t)-1) is invalid.
func numericID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

// resolveIdentity resolves user, group and the supplementary groups under
// root. Without user and group it is root with $HOME /root, not "set". A
// user not in /etc/passwd is accepted when numeric (home "/", shell
// /usr/sbin/nologin); the user's own memberships in /etc/group are added to
// the supplementary groups, as initgroups(3) does.
func resolveIdentity(root, user, group string, supplementary []string) (identity, error) {
	id := identity{user: "root", home: "/root", shell: "/bin/sh"}
	if user == "" && group == "" && len(supplementary) == 0 {
		return id, nil
	}
	id.set = user != "" || group != ""
	id.change = true
	pw := parsePasswd(readRootFile(root, "/etc/passwd"))
	gr := parseGroup(readRootFile(root, "/etc/group"))
	if user != "" {
		found := false
		for _, e := range pw {
			if e.name == user || (strconv.FormatUint(uint64(e.uid), 10) == user) {
				id.user, id.uid, id.gid, id.home, id.shell = e.name, e.uid, e.gid, e.home, e.shell
				found = true
				break
			}
		}
		if !found {
			switch n, ok := numericID(user); {
			case user == "root":
				// root always exists, even without /etc/passwd
			case ok:
				id.user, id.uid, id.gid, id.home, id.shell = user, n, n, "/", "/usr/sbin/nologin"
			default:
				return id, fmt.Errorf("user %q not found in %s", user, "/etc/passwd")
			}
		}
		if id.home == "" {
			id.home = "/"
		}
	}
	if group != "" {
		gid, err := lookupGroup(gr, group)
		if err != nil {
			return id, err
		}
		id.gid = gid
	}
	seen := map[uint32]bool{}
	add := func(g uint32) {
		if !seen[g] && g != id.gid {
			seen[g] = true
			id.groups = append(id.groups, g)
		}
	}
	if user != "" && id.user != "root" {
		for _, g := range gr {
			for _, mem := range g.members {
				if mem == id.user {
					add(g.gid)
				}
			}
		}
	}
	for _, s := range supplementary {
		gid, err := lookupGroup(gr, s)
		if err != nil {
			return id, err
		}
		add(gid)
	}
	return id, nil
}

func lookupGroup(gr []groupEntry, name string) (uint32, error) {
	for _, g := range gr {
		if g.name == name {
			return g.gid, nil
		}
	}
	if n, ok := numericID(name); ok {
		return n, nil
	}
	if name == "root" {
		return 0, nil
	}
	return 0, fmt.Errorf("group %q not found in /etc/group", name)
}

func readRootFile(root, p string) []byte {
	b, _ := os.ReadFile(filepath.Join(root, p))
	return b
}
