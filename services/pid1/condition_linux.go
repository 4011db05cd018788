package pid1

// Condition*= and Assert*= checks, evaluated by lib/unit/condition against
// the manager's root, environment and credentials. The virtualization
// helpers here are thin names for the manager's other users (its
// Virtualization property, generators, SMBIOS credentials).

import (
	"github.com/stead-os/stead/lib/unit"
	"github.com/stead-os/stead/lib/unit/condition"
)

// conditionEnv is what the manager's conditions are evaluated against.
func (m *Manager) conditionEnv() *condition.Env {
	return &condition.Env{Root: m.cfg.Root, PID1: m.cfg.PID1, CredentialsDirs: []string{m.systemCredentialsDir()}}
}

// conditionMet evaluates one condition, without its "!" negation. One
// that cannot be evaluated is not met (upstream's rule), and is logged.
func (m *Manager) conditionMet(c unit.Condition) bool {
	ok, err := m.conditionEnv().Evaluate(c.Kind, c.Value)
	if err != nil {
		m.log.Warn("cannot evaluate condition, assuming failed", "condition", conditionString(c), "error", err)
		return false
	}
	return ok
}

// virtualization is what detectVirtualization found: an upstream
// identifier ("kvm", "docker", …) and whether it is a container; id ""
// is bare metal.
type virtualization struct {
	id        string
	container bool
}

func detectVirtualization(root string, pid1 bool) virtualization {
	v := condition.DetectVirtualization(root, pid1)
	return virtualization{v.ID, v.Container}
}

// name is the identifier upstream reports: "none" on bare metal.
func (v virtualization) name() string { return condition.Virtualization{ID: v.id}.Name() }

func confidentialVirtualization(root string) string {
	return condition.ConfidentialVirtualization(root)
}

func virtualizationMatches(v virtualization, want string) bool {
	return condition.VirtualizationMatches(condition.Virtualization{ID: v.id, Container: v.container}, want)
}

// EFI variables ConditionSecurity= looks at.
const (
	efiSecureBoot       = condition.EFISecureBoot
	efiStubPcrKernImage = condition.EFIStubPcrKernImage
)

// securityEnabled checks ConditionSecurity=.
func (m *Manager) securityEnabled(tech string) bool { return m.conditionEnv().Security(tech) }
