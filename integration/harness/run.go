package harness

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
)

// Run runs cmd to its end and returns its stdout, stderr and exit code; the test fails at
// once if it cannot run at all.
func Run(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", filepath.Base(cmd.Path), err)
	}
	return o.String(), e.String(), code
}
