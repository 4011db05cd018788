package sysupdate

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false).(*progress)
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	p.Start("t", "os_2.raw")
	for done := int64(0); done <= 100<<20; done += 1 << 20 {
		now = now.Add(10 * time.Millisecond)
		p.Update(done, 100<<20)
	}
	p.Done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d lines, want one per tenth (11):\n%s", len(lines), b.String())
	}
	if !strings.HasPrefix(lines[5], "os_2.raw  50% 50M/100M") || !strings.Contains(lines[5], "/s ETA") {
		t.Errorf("line %q", lines[5])
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true).(*progress)
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	p.Start("t", "x")
	p.Update(0, 1024)
	now = now.Add(time.Second)
	p.Update(512, 1024)
	p.Done()
	if got := b.String(); !strings.Contains(got, "\r\x1b[Kx [############            ]  50% 512/1K 512/s ETA 1s\n") {
		t.Errorf("bar %q", got)
	}
}
