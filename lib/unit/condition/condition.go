// Package condition evaluates the Condition*= and Assert*= settings of
// unit files (systemd.unit(5) of systemd 262), reading every file below a
// root so a fake tree decides them in tests and host mode. Init calls it
// before starting a unit; the differential test TestInitUnitsConditions
// compares its answers with upstream's `systemd-analyze condition`.
package condition

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/stead-os/stead/lib/unit"
)

// Env is what conditions are evaluated against.
type Env struct {
	Root string // host directory of the tree; "" or "/" for the real root
	PID1 bool   // the manager is PID 1: $container is its own environment
	// Environ is the manager's environment (ConditionEnvironment=); nil
	// means this process's.
	Environ []string
	// CredentialsDirs are the host directories holding the manager's
	// credentials (ConditionCredential=).
	CredentialsDirs []string
}

// SystemdVersion is the systemd version stead implements, what
// ConditionVersion=systemd compares with.
const SystemdVersion = "262"

// ErrUnknown is returned for a condition kind this package does not know.
var ErrUnknown = errors.New("unknown condition")

// Kinds are the condition names (without Condition/Assert) upstream 262
// documents, each evaluated here.
var Kinds = unit.ConditionKinds

// Evaluate tests one condition, without its "!" negation. An error means
// the condition could not be evaluated; upstream counts that as failed,
// negated or not.
func (e *Env) Evaluate(kind, value string) (bool, error) {
	f, ok := tests[kind]
	if !ok {
		return false, fmt.Errorf("%w %q", ErrUnknown, kind)
	}
	return f(e, value)
}

// Check evaluates the conditions (asserts false) or assertions (asserts
// true) of a list as upstream combines them: every non-triggering one
// must hold and, if there are triggering ("|") ones, at least one of them.
// failed is the first that did not hold, or nil with ok false when no
// triggering one held.
func (e *Env) Check(conds []unit.Condition, asserts bool) (ok bool, failed *unit.Condition) {
	var trig, trigMet bool
	for i := range conds {
		c := &conds[i]
		if c.Assert != asserts {
			continue
		}
		met := e.Met(*c)
		if c.Trigger {
			trig = true
			trigMet = trigMet || met
			continue
		}
		if !met {
			return false, c
		}
	}
	if trig && !trigMet {
		return false, nil
	}
	return true, nil
}

// Met is one condition's result with its negation applied; a condition
// that cannot be evaluated is not met.
func (e *Env) Met(c unit.Condition) bool {
	r, err := e.Evaluate(c.Kind, c.Value)
	if err != nil {
		return false
	}
	return r != c.Negate
}

// root is the host prefix of in-root paths.
func (e *Env) root() string {
	if e.Root == "/" {
		return ""
	}
	return strings.TrimSuffix(e.Root, "/")
}

// path maps an in-root path to the host.
func (e *Env) path(p string) string { return e.root() + p }

func (e *Env) environ() []string {
	if e.Environ != nil {
		return e.Environ
	}
	return os.Environ()
}

// tests maps each kind to its check (checks.go).
var tests map[string]func(*Env, string) (bool, error)

func init() {
	tests = map[string]func(*Env, string) (bool, error){
		"Architecture":           testArchitecture,
		"Firmware":               testFirmware,
		"Virtualization":         testVirtualization,
		"Host":                   testHost,
		"Fraction":               testFraction,
		"KernelCommandLine":      testKernelCommandLine,
		"KernelVersion":          testKernelVersion,
		"Version":                testVersion,
		"Credential":             testCredential,
		"Environment":            testEnvironment,
		"Security":               testSecurity,
		"Capability":             testCapability,
		"ACPower":                testACPower,
		"NeedsUpdate":            testNeedsUpdate,
		"FirstBoot":              testFirstBoot,
		"PathExists":             testPathExists,
		"PathExistsGlob":         testPathExistsGlob,
		"PathIsDirectory":        testPathIsDirectory,
		"PathIsSymbolicLink":     testPathIsSymbolicLink,
		"PathIsMountPoint":       testPathIsMountPoint,
		"PathIsReadWrite":        testPathIsReadWrite,
		"PathIsEncrypted":        testPathIsEncrypted,
		"PathIsSocket":           testPathIsSocket,
		"DirectoryNotEmpty":      testDirectoryNotEmpty,
		"FileNotEmpty":           testFileNotEmpty,
		"FileIsExecutable":       testFileIsExecutable,
		"User":                   testUser,
		"Group":                  testGroup,
		"ControlGroupController": testControlGroupController,
		"Memory":                 testMemory,
		"CPUs":                   testCPUs,
		"CPUFeature":             testCPUFeature,
		"OSRelease":              testOSRelease,
		"MachineTag":             testMachineTag,
		"MemoryPressure":         pressureTest("memory"),
		"CPUPressure":            pressureTest("cpu"),
		"IOPressure":             pressureTest("io"),
		"KernelModuleLoaded":     testKernelModuleLoaded,
	}
}
