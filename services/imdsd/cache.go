package imdsd

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/atomicfile"
)

// boottime is the clock cache timestamps use: CLOCK_BOOTTIME, which keeps counting across
// suspend and restarts of the daemon, and starts over at boot (when /run is empty anyway).
func boottime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ts.Nano())
}

// The in-memory cache is bounded by entries and bytes; the disk keeps everything.
const (
	maxMemEntries = 4096
	maxMemBytes   = 32 << 20
)

// entry is one cached answer: a value, or "not found".
type entry struct {
	Key           string `json:"key"`
	Endpoint      string `json:"endpoint"`
	TimestampUSec int64  `json:"timestampUSec"`
	NotFound      bool   `json:"notFound,omitempty"`
	Data          []byte `json:"data,omitempty"`
}

func (e *entry) fresh(now, refresh time.Duration) bool {
	ts := time.Duration(e.TimestampUSec) * time.Microsecond
	return ts <= now && now < ts+refresh
}

// savedToken is a session token as kept on disk.
type savedToken struct {
	TokenURL       string `json:"tokenUrl"`
	Token          string `json:"token"`
	ValidUntilUSec int64  `json:"validUntilUSec"`
}

// cache keeps answers per interface and key, in memory and — when dir is set — in files under
// dir/cache/<interface>/ (mode 0600), so that a restarted daemon still has them. The pinned
// interface is kept in dir/ifname.
type cache struct {
	dir string
	log *slog.Logger

	mu        sync.Mutex
	mem       map[string]*entry
	memBytes  int
	resized   func(memBytes int) // told when memBytes changed; nil = nobody
	pinName   string             // the pinned interface, once read or set
	pinLoaded bool
}

func newCache(dir string, log *slog.Logger) *cache {
	return &cache{dir: dir, log: log, mem: map[string]*entry{}}
}

func memKey(iface, endpoint, key string) string { return iface + "\x00" + endpoint + "\x00" + key }

// safeName reports whether an interface name can be used as a directory name.
func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

func (c *cache) ifaceDir(iface string) string {
	if c.dir == "" || !safeName(iface) {
		return ""
	}
	return filepath.Join(c.dir, "cache", iface)
}

func fileName(endpoint, key string) string {
	h := sha256.Sum256([]byte(endpoint + "\x00" + key))
	return "key-" + hex.EncodeToString(h[:16])
}

// removeStale deletes the temporary files that an earlier imdsd, killed while writing, left in
// the runtime directory and the interface directories below it: nothing would ever replace or
// read them. Called at start-up, before this process writes anything there.
func (c *cache) removeStale() {
	if c.dir == "" {
		return
	}
	dirs := []string{c.dir}
	ifaces, err := os.ReadDir(filepath.Join(c.dir, "cache"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("cannot list the cache directory", "err", err)
	}
	for _, e := range ifaces {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(c.dir, "cache", e.Name()))
		}
	}
	removed := 0
	for _, d := range dirs {
		n, err := atomicfile.RemoveStale(d)
		removed += n
		if err != nil {
			c.log.Warn("cannot remove stale temporary files", "dir", d, "err", err)
		}
	}
	c.log.Debug("removed stale temporary files from the runtime directory", "count", removed)
}

// mkdir creates an interface's cache directory: the runtime directory world-readable as
// systemd makes it, the cache below it private.
func (c *cache) mkdir(ifaceDir string) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	return os.MkdirAll(ifaceDir, 0o700)
}

// lookup returns the cached answer for key if it is younger than refresh.
func (c *cache) lookup(iface, endpoint, key string, now, refresh time.Duration) (*entry, bool) {
	mk := memKey(iface, endpoint, key)
	c.mu.Lock()
	e, ok := c.mem[mk]
	c.mu.Unlock()
	if !ok {
		e, ok = c.load(iface, endpoint, key)
		if !ok {
			return nil, false
		}
		c.remember(mk, e)
	}
	if !e.fresh(now, refresh) {
		return nil, false
	}
	return e, true
}

func (c *cache) remember(mk string, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.mem[mk]; ok {
		c.memBytes -= len(old.Data)
		delete(c.mem, mk)
	}
	if len(e.Data) > maxMemBytes/4 {
		if c.resized != nil {
			c.resized(c.memBytes) // the entry it replaces may have gone
		}
		return // large values are read back from disk
	}
	for k, old := range c.mem { // drop arbitrary entries until the new one fits
		if len(c.mem) < maxMemEntries && c.memBytes+len(e.Data) <= maxMemBytes {
			break
		}
		c.memBytes -= len(old.Data)
		delete(c.mem, k)
	}
	c.mem[mk] = e
	c.memBytes += len(e.Data)
	if c.resized != nil {
		c.resized(c.memBytes)
	}
}

func (c *cache) load(iface, endpoint, key string) (*entry, bool) {
	d := c.ifaceDir(iface)
	if d == "" {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(d, fileName(endpoint, key)))
	if err != nil {
		return nil, false
	}
	var e entry
	if json.Unmarshal(b, &e) != nil || e.Key != key || e.Endpoint != endpoint {
		return nil, false
	}
	return &e, true
}

// store records an answer in memory and on disk.
func (c *cache) store(iface string, e *entry) {
	c.remember(memKey(iface, e.Endpoint, e.Key), e)
	d := c.ifaceDir(iface)
	if d == "" {
		return
	}
	b, err := json.Marshal(e)
	if err == nil {
		err = c.mkdir(d)
	}
	if err == nil {
		err = atomicfile.Write(filepath.Join(d, fileName(e.Endpoint, e.Key)), b, 0o600)
	}
	if err != nil {
		c.log.Warn("cannot write cache file", "interface", iface, "err", err)
	}
}

// onResize calls f with the bytes held in memory now and whenever that changes.
func (c *cache) onResize(f func(memBytes int)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resized = f
	f(c.memBytes)
}

// clear forgets everything held in memory (files stay, tagged with their endpoint).
func (c *cache) clear() {
	c.mu.Lock()
	c.mem, c.memBytes = map[string]*entry{}, 0
	if c.resized != nil {
		c.resized(0)
	}
	c.mu.Unlock()
}

func (c *cache) loadToken(iface string) (savedToken, bool) {
	d := c.ifaceDir(iface)
	if d == "" {
		return savedToken{}, false
	}
	b, err := os.ReadFile(filepath.Join(d, "token"))
	if err != nil {
		return savedToken{}, false
	}
	var t savedToken
	return t, json.Unmarshal(b, &t) == nil && t.Token != ""
}

func (c *cache) saveToken(iface string, t savedToken) {
	d := c.ifaceDir(iface)
	if d == "" {
		return
	}
	b, err := json.Marshal(t)
	if err == nil {
		err = c.mkdir(d)
	}
	if err == nil {
		err = atomicfile.Write(filepath.Join(d, "token"), b, 0o600)
	}
	if err != nil {
		c.log.Warn("cannot write token file", "interface", iface, "err", err)
	}
}

func (c *cache) dropToken(iface string) {
	if d := c.ifaceDir(iface); d != "" {
		os.Remove(filepath.Join(d, "token"))
	}
}

// pinned returns the interface name recorded by pin, or "". The file is read once; later
// changes go through pin and unpin.
func (c *cache) pinned() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pinLoaded || c.dir == "" {
		return c.pinName
	}
	c.pinLoaded = true
	b, err := os.ReadFile(filepath.Join(c.dir, "ifname"))
	if err != nil {
		return ""
	}
	if name := strings.TrimSpace(string(b)); safeName(name) {
		c.pinName = name
	}
	return c.pinName
}

func (c *cache) setPin(name string) (changed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed = !c.pinLoaded || c.pinName != name
	c.pinName, c.pinLoaded = name, true
	return changed
}

// pin records the interface answers came through, for the next requests and restarts.
func (c *cache) pin(iface string) {
	if !c.setPin(iface) || c.dir == "" {
		return
	}
	err := os.MkdirAll(c.dir, 0o755)
	if err == nil {
		err = atomicfile.Write(filepath.Join(c.dir, "ifname"), []byte(iface+"\n"), 0o644)
	}
	if err != nil {
		c.log.Warn("cannot record the interface", "err", err)
	}
}

func (c *cache) unpin() {
	c.setPin("")
	if c.dir != "" {
		if err := os.Remove(filepath.Join(c.dir, "ifname")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("cannot forget the interface", "err", err)
		}
	}
}
