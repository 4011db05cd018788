package vm

import (
	"path/filepath"
	"testing"
)

func TestConsoleStripsControl(t *testing.T) {
	c, err := newConsole(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.Write([]byte("\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS\r\nBooting\x1b[1;31m red\x1b[0m\r\n"))
	if got, want := c.String(), "SeaBIOS\nBooting red\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, ok := c.contains("Booting red"); !ok {
		t.Error("contains")
	}
	// Sequences split across writes.
	for _, chunk := range []string{"a\x1b", "c\x1b[", "2", "Jb\x1b", "[0m\n"} {
		c.Write([]byte(chunk))
	}
	if got, want := c.String(), "SeaBIOS\nBooting red\nab\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
