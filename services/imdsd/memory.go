package imdsd

import (
	"os"
	"runtime"
	"runtime/debug"
)

// Memory policy of the daemon.
//
// Go's collector lets the heap grow to twice the live data, and to at least 4 MiB, before it
// collects. imdsd's live data is small (connections, configuration, the cache), so under a
// burst of clients the default policy leaves megabytes of garbage resident — more than the
// whole daemon needs. The daemon therefore sets a soft memory limit (debug.SetMemoryLimit):
// what the runtime holds once started, plus memoryHeadroom for requests in flight, plus twice
// the bytes of the in-memory cache, so that cached values get the headroom the default
// policy would give them and a full cache never makes the collector run back to back. The
// limit is soft: a burst that needs more (a 4 MiB value in flight) gets it, at the price of
// more frequent collections meanwhile. GOMEMLIMIT or GOGC in the environment turn the policy
// off. See docs/imdsd.md, "Memory".
const memoryHeadroom = 2 << 20

// memoryLimit keeps the runtime's soft memory limit in step with the cache.
type memoryLimit struct {
	base int64 // what the runtime held when serving started
}

// newMemoryLimit measures the baseline; nil when the environment sets the collector's policy
// itself.
func newMemoryLimit() *memoryLimit {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return nil
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// What the limit counts: memory mapped by the runtime and not returned to the system.
	return &memoryLimit{base: int64(ms.Sys - ms.HeapReleased)}
}

// cacheResized moves the limit with the cache's size in bytes (the cache calls it under its
// lock, so updates arrive in order).
func (m *memoryLimit) cacheResized(bytes int) {
	debug.SetMemoryLimit(m.base + memoryHeadroom + 2*int64(bytes))
}
