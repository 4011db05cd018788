package unit

// Paths and names of the [Install] machinery (install.go): upstream's
// system lookup paths, the config directories symlinks go to, and the
// unit-name classifications enable/disable need.

import (
	"errors"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
)

// The directories enable/disable write to and read from, inside the root.
const (
	PersistentConfigDir  = "/etc/systemd/system"
	RuntimeConfigDir     = "/run/systemd/system"
	persistentControlDir = "/etc/systemd/system.control"
	runtimeControlDir    = "/run/systemd/system.control"
	TransientDir         = "/run/systemd/transient"
)

// InstallSearchPath is upstream's system unit search path as its
// [Install] logic walks it, most important first. It is longer than
// DefaultDirs (the directories init loads from): the control, transient,
// attached and /usr/local directories are searched too, so a unit's state
// reads as upstream's.
var InstallSearchPath = []string{
	persistentControlDir,
	runtimeControlDir,
	TransientDir,
	GeneratorEarlyDir,
	PersistentConfigDir,
	"/etc/systemd/system.attached",
	RuntimeConfigDir,
	"/run/systemd/system.attached",
	GeneratorNormalDir,
	"/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system",
	GeneratorLateDir,
}

// nameKind classifies a unit name the way upstream's unit_name_is_valid
// flags do.
type nameKind int

const (
	namePlain nameKind = 1 << iota
	nameTemplate
	nameInstance
	nameAny = namePlain | nameTemplate | nameInstance
)

// classify returns the kind of a valid unit name, or 0 for an invalid one.
func classify(name string) nameKind {
	_, inst, _, tmpl, err := ParseName(name)
	switch {
	case err != nil:
		return 0
	case tmpl:
		return nameTemplate
	case inst != "":
		return nameInstance
	}
	return namePlain
}

func validName(name string, kinds nameKind) bool { return classify(name)&kinds != 0 }

// unitType is the suffix of a unit name ("service"), "" if there is none.
func unitType(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return ""
}

// mayAlias and mayTemplate are upstream's unit_type_may_alias and
// unit_type_may_template.
func mayAlias(typ string) bool {
	return slices.Contains([]string{"service", "socket", "target", "device", "timer", "path"}, typ)
}

func mayTemplate(typ string) bool {
	return slices.Contains([]string{"service", "socket", "target", "timer", "path"}, typ)
}

// templateOf turns "foo@bar.service" into "foo@.service"; ok is false for
// names without an instance.
func templateOf(name string) (string, bool) {
	at := strings.IndexByte(name, '@')
	dot := strings.LastIndexByte(name, '.')
	if at < 0 || dot < at {
		return "", false
	}
	return name[:at+1] + name[dot:], true
}

// instanceOf is the instance of "foo@bar.service" ("bar").
func instanceOf(name string) string {
	at := strings.IndexByte(name, '@')
	dot := strings.LastIndexByte(name, '.')
	if at < 0 || dot < at {
		return ""
	}
	return name[at+1 : dot]
}

// replaceInstance puts inst into a template or instance name.
func replaceInstance(name, inst string) string {
	at := strings.IndexByte(name, '@')
	dot := strings.LastIndexByte(name, '.')
	return name[:at+1] + inst + name[dot:]
}

// validInstance is upstream's unit_instance_is_valid: characters allowed
// in unit names, plus "@".
func validInstance(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":-_.\\@", c) >= 0) {
			return false
		}
	}
	return true
}

// validateAlias is upstream's check of an alias symlink src → dst (unit
// names): same type, a type that may be aliased, matching template or
// instance shape. A self-alias is ELOOP, a mismatch EXDEV, an invalid
// name EINVAL.
func validateAlias(src, dst string) error {
	sk := classify(src)
	if sk == 0 {
		return syscall.EINVAL
	}
	typ := unitType(src)
	if !mayAlias(typ) || sk != namePlain && !mayTemplate(typ) {
		return syscall.EINVAL
	}
	if src == dst {
		return syscall.ELOOP
	}
	dk := classify(dst)
	if dk == 0 {
		return syscall.EXDEV
	}
	if !(dk == sk || sk == nameInstance && dk == nameTemplate) {
		return syscall.EXDEV
	}
	if dk == nameInstance && instanceOf(src) != instanceOf(dst) {
		return syscall.EXDEV
	}
	if unitType(dst) != typ {
		return syscall.EXDEV
	}
	return nil
}

// inDirs reports whether p's parent directory is one of dirs.
func inDirs(dirs []string, p string) bool { return slices.Contains(dirs, path.Dir(p)) }

// underDirs reports whether p lies below one of dirs.
func underDirs(dirs []string, p string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func isGeneratorDir(d string) bool {
	return d == GeneratorEarlyDir || d == GeneratorNormalDir || d == GeneratorLateDir
}

// isRuntimePath is upstream's path_is_runtime: anything under /run.
func isRuntimePath(p string) bool { return p == "/run" || strings.HasPrefix(p, "/run/") }

// host maps an in-root path to the host.
func (in *Installer) host(p string) string {
	if in.Root == "" || in.Root == "/" {
		return p
	}
	return strings.TrimSuffix(in.Root, "/") + p
}

// Display is how upstream prints a path it changed: with the root in front.
func (in *Installer) Display(p string) string { return in.host(p) }

// chase resolves the in-root path p below the root as if the root were
// "/". With follow, every symlink is followed, else only the directories
// leading to the last component; a missing tail is kept as it is
// (upstream's CHASE_NONEXISTENT).
func (in *Installer) chase(p string, follow bool) (string, error) {
	todo := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	done := "/"
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			done = path.Dir(done)
			continue
		}
		next := path.Join(done, c)
		if !follow && len(todo) == 0 {
			return next, nil
		}
		t, err := os.Readlink(in.host(next))
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) && (errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT)) {
				if errors.Is(err, syscall.ENOENT) {
					// Missing: keep the rest as it is.
					return path.Join(append([]string{next}, todo...)...), nil
				}
				done = next // not a symlink
				continue
			}
			return "", err
		}
		if links++; links > 40 {
			return "", syscall.ELOOP
		}
		if path.IsAbs(t) {
			done = "/"
		}
		todo = append(strings.Split(t, "/"), todo...)
	}
	return done, nil
}
