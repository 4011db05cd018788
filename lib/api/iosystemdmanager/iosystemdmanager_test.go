package iosystemdmanager

import (
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
)

// TestReplyTypesMatchIDL checks that every field the Go types send is declared, and that
// every mandatory field is always sent.
func TestReplyTypesMatchIDL(t *testing.T) {
	apitest.CheckTypes(t, description, map[string]any{"ManagerContext": ManagerContext{}, "ManagerRuntime": ManagerRuntime{},
		"LogLevelStruct": LogLevelStruct{}, "Timestamp": Timestamp{}})
}
