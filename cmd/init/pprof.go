package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles profiles init when STEAD_INIT_PPROF=FILE is set (a debugging aid, see
// docs/init.md; as PID 1 the kernel passes it from its command line): a CPU profile goes
// to FILE, the mutex and blocking profiles to FILE.mutex and FILE.block. The returned
// function writes them (host mode: at exit; PID 1: once default.target is active); it is
// a no-op without the variable.
func startProfiles() (stop func()) {
	path := os.Getenv("STEAD_INIT_PPROF")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "init: STEAD_INIT_PPROF:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "init: STEAD_INIT_PPROF:", err)
		f.Close()
		return func() {}
	}
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(int(1e5)) // one event per 100 µs blocked
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		for _, p := range []string{"mutex", "block"} {
			if pf, err := os.Create(path + "." + p); err == nil {
				_ = pprof.Lookup(p).WriteTo(pf, 0)
				pf.Close()
			}
		}
	}
}
