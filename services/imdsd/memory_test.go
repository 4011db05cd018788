package imdsd

import (
	"math"
	"runtime/debug"
	"testing"
)

// The memory limit follows the bytes the in-memory cache holds.
func TestMemoryLimitFollowsCache(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	defer debug.SetMemoryLimit(math.MaxInt64)
	m := newMemoryLimit()
	if m == nil || m.base <= 0 {
		t.Fatalf("no policy: %+v", m)
	}
	c := newCache("", testLogger())
	c.onResize(m.cacheResized)
	if got, want := debug.SetMemoryLimit(-1), m.base+memoryHeadroom; got != want {
		t.Errorf("empty cache: limit %d, want %d", got, want)
	}
	c.store("eth0", &entry{Key: "/a", Endpoint: "e", Data: make([]byte, 1000)})
	c.store("eth0", &entry{Key: "/b", Endpoint: "e", Data: make([]byte, 500)})
	c.store("eth0", &entry{Key: "/a", Endpoint: "e", Data: make([]byte, 100)}) // replaces
	if got, want := debug.SetMemoryLimit(-1), m.base+memoryHeadroom+2*600; got != want {
		t.Errorf("600 cached bytes: limit %d, want %d", got, want)
	}
	// A value too large for memory replaces /a: its 100 bytes are no longer held.
	c.store("eth0", &entry{Key: "/a", Endpoint: "e", Data: make([]byte, maxMemBytes/4+1)})
	if got, want := debug.SetMemoryLimit(-1), m.base+memoryHeadroom+2*500; got != want {
		t.Errorf("500 cached bytes: limit %d, want %d", got, want)
	}
	c.clear()
	if got, want := debug.SetMemoryLimit(-1), m.base+memoryHeadroom; got != want {
		t.Errorf("cleared: limit %d, want %d", got, want)
	}
}

func TestMemoryPolicyYieldsToEnvironment(t *testing.T) {
	for _, v := range []string{"GOMEMLIMIT", "GOGC"} {
		t.Run(v, func(t *testing.T) {
			t.Setenv(v, "100")
			if m := newMemoryLimit(); m != nil {
				t.Errorf("%s set, policy still applied", v)
			}
		})
	}
}
