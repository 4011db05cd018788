package harness

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// CI reports whether this is a CI run: $CI is true ("true", "1", …; integration/check and
// .ci/run export CI=true). Under CI every test must run, so a missing prerequisite fails.
func CI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Require stops a test whose prerequisite is missing, saying why and which Debian packages
// provide it ("apt-get install PKG…"; none for conditions no package fixes, such as running
// as root). Under CI (see CI) the test fails; otherwise it is skipped. It always ends the
// test: call it only once the prerequisite is known to be missing.
func Require(t testing.TB, reason string, debianPackages ...string) {
	t.Helper()
	msg := "missing prerequisite: " + reason
	if len(debianPackages) > 0 {
		msg += " (Debian: apt-get install " + strings.Join(debianPackages, " ") + ")"
	}
	if CI() {
		t.Fatalf("%s; under CI (CI=true) every test must run", msg)
	}
	t.Skip(msg)
}

// NeedCommand returns the path of the program name (exec.LookPath), or stops the test with
// Require naming debianPackage, which provides it.
func NeedCommand(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Require(t, name+" is not installed", debianPackage)
	}
	return p
}

// NeedRoot stops the test with Require unless it runs as root; why says what needs it.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Require(t, why+" needs root")
	}
}
