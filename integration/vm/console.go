package vm

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"sync"
)

// console collects qemu's output (the guest's ttyS0 and qemu's own messages) in memory and
// in a log file.
type console struct {
	path    string
	mu      sync.Mutex
	buf     bytes.Buffer
	f       *os.File
	changed chan struct{}
	pending []byte // the start of a control sequence, completed by the next write
}

func newConsole(path string) (*console, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &console{path: path, f: f, changed: make(chan struct{})}, nil
}

// Terminal control sequences (SeaBIOS clears the screen) and carriage returns only clutter
// a log.
var (
	ctlSeq     = regexp.MustCompile("\x1b(\\[[0-9;?]*[ -/]*[@-~]|[@-Z\\\\-_]|c)|\r")
	ctlPartial = regexp.MustCompile("\x1b(\\[[0-9;?]*[ -/]*)?$") // a sequence cut by a read
)

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data := append(c.pending, p...)
	c.pending = nil
	if loc := ctlPartial.FindIndex(data); loc != nil && len(data)-loc[0] < 64 {
		c.pending = append([]byte(nil), data[loc[0]:]...)
		data = data[:loc[0]]
	}
	clean := ctlSeq.ReplaceAll(data, nil)
	c.buf.Write(clean)
	if c.f != nil {
		c.f.Write(clean)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return len(p), nil
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// contains reports whether s was seen, and else returns a channel closed on the next write.
func (c *console) contains(s string) (<-chan struct{}, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.Contains(c.buf.String(), s) {
		return nil, true
	}
	return c.changed, false
}

func (c *console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}
