package sysupdate

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stead-os/stead/lib/conf"
)

// Progress reports a download's progress.
type Progress interface {
	Start(transfer, name string)
	Update(done, total int64) // total < 0: unknown
	Done()
}

// NewProgress draws a bar (bytes, rate, ETA) on a terminal and prints a line every tenth of
// the way (or every 64 MiB when the size is unknown) otherwise.
func NewProgress(w io.Writer, terminal bool) Progress {
	return &progress{w: w, tty: terminal, now: time.Now}
}

type progress struct {
	w        io.Writer
	tty      bool
	now      func() time.Time
	name     string
	start    time.Time
	first    int64 // bytes already there when the download (re)started
	started  bool
	lastStep int64
	lastDraw time.Time
	drawn    bool
}

func (p *progress) Start(transfer, name string) {
	*p = progress{w: p.w, tty: p.tty, now: p.now, name: name, start: p.now(), lastStep: -1}
}

func (p *progress) Update(done, total int64) {
	killAfterBytes(done)
	if !p.started {
		p.started, p.first = true, done
	}
	now := p.now()
	elapsed := now.Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done-p.first) / elapsed
	}
	if p.tty {
		if now.Sub(p.lastDraw) < 100*time.Millisecond && done != total {
			return
		}
		p.lastDraw, p.drawn = now, true
		fmt.Fprintf(p.w, "\r\x1b[K%s", p.line(done, total, rate, true))
		return
	}
	var step int64
	if total > 0 {
		step = done * 10 / total
	} else {
		step = done >> 26
	}
	if step != p.lastStep {
		p.lastStep = step
		fmt.Fprintln(p.w, p.line(done, total, rate, false))
	}
}

func (p *progress) line(done, total int64, rate float64, bar bool) string {
	var b strings.Builder
	b.WriteString(p.name)
	if total > 0 {
		pct := done * 100 / total
		if bar {
			const width = 24
			n := int(done * width / total)
			fmt.Fprintf(&b, " [%s%s]", strings.Repeat("#", n), strings.Repeat(" ", width-n))
		}
		fmt.Fprintf(&b, " %3d%% %s/%s", pct, conf.FormatBytes(uint64(done)), conf.FormatBytes(uint64(total)))
	} else {
		fmt.Fprintf(&b, " %s", conf.FormatBytes(uint64(done)))
	}
	if rate > 0 {
		fmt.Fprintf(&b, " %s/s", conf.FormatBytes(uint64(rate)))
		if total > done {
			eta := time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second)
			fmt.Fprintf(&b, " ETA %s", eta)
		}
	}
	return b.String()
}

func (p *progress) Done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}

// killAfterBytes is the mid-download fault injection of the tests: with
// $STEAD_SYSUPDATE_KILL_AFTER_BYTES=N the process kills itself once a download has N bytes.
func killAfterBytes(done int64) {
	v := os.Getenv("STEAD_SYSUPDATE_KILL_AFTER_BYTES")
	if v == "" {
		return
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && done >= n {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

// NoProgress reports nothing.
type NoProgress struct{}

func (NoProgress) Start(string, string) {}
func (NoProgress) Update(int64, int64)  {}
func (NoProgress) Done()                {}
