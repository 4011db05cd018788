package iosystemdunit

import (
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
)

// TestReplyTypesMatchIDL checks that every field the Go types send is declared, and that
// every mandatory field is always sent.
func TestReplyTypesMatchIDL(t *testing.T) {
	apitest.CheckTypes(t, description, map[string]any{"UnitContext": UnitContext{}, "UnitRuntime": UnitRuntime{},
		"CGroupRuntime": CGroupRuntime{}, "ServiceRuntime": ServiceRuntime{}, "ExecCommandStatus": ExecCommandStatus{},
		"ProcessId": ProcessId{}, "NoSuchUnit": NoSuchUnit{}, "CGroupContext": CGroupContext{},
		"TimerSpec": TimerSpec{}, "TimerContext": TimerContext{}, "TimerRuntime": TimerRuntime{}})
}
