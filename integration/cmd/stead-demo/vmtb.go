package main

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// demoTB lets the demo use the VM harness (integration/vm), whose API takes a testing.TB
// because tests are its main users. It implements what the harness calls; Fatal and Skip
// end the VM tour (through tbStop, recovered by runVMTour), not the program. The embedded
// interface is nil: anything else the harness might call would panic, loudly.
type demoTB struct {
	testing.TB
	name string

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// tbStop is the panic value of Fatal and Skip.
type tbStop struct {
	skipped bool
	msg     string
}

func (t *demoTB) Helper()                      {}
func (t *demoTB) Name() string                 { return t.name }
func (t *demoTB) Logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "  (vm) "+format+"\n", a...) }
func (t *demoTB) Log(a ...any)                 { fmt.Fprintln(os.Stderr, append([]any{"  (vm)"}, a...)...) }
func (t *demoTB) Errorf(format string, a ...any) {
	t.setFailed()
	t.Logf(format, a...)
}
func (t *demoTB) Fatalf(format string, a ...any) {
	t.setFailed()
	panic(tbStop{msg: fmt.Sprintf(format, a...)})
}
func (t *demoTB) Fatal(a ...any) { t.setFailed(); panic(tbStop{msg: fmt.Sprint(a...)}) }
func (t *demoTB) Skipf(format string, a ...any) {
	panic(tbStop{skipped: true, msg: fmt.Sprintf(format, a...)})
}
func (t *demoTB) Skip(a ...any)    { panic(tbStop{skipped: true, msg: fmt.Sprint(a...)}) }
func (t *demoTB) Failed() bool     { t.mu.Lock(); defer t.mu.Unlock(); return t.failed }
func (t *demoTB) setFailed()       { t.mu.Lock(); t.failed = true; t.mu.Unlock() }
func (t *demoTB) Cleanup(f func()) { t.mu.Lock(); t.cleanups = append(t.cleanups, f); t.mu.Unlock() }
func (t *demoTB) TempDir() string {
	d, err := os.MkdirTemp("", "stead-demo-vm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// done runs the cleanups, last registered first, as testing does.
func (t *demoTB) done() {
	t.mu.Lock()
	c := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}
