// Package oomctl is stead's oomctl: it prints the state of oomd, read over Varlink with
// io.stead.oom.Describe on oomd's socket (upstream's oomctl reads it over D-Bus), in
// upstream's text layout or as JSON. See docs/oomctl.md.
package oomctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/stead-os/stead/lib/api/iosteadoom"
	"github.com/stead-os/stead/lib/api/iosystemdoom"
	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Options are oomctl's command-line settings.
type Options struct {
	Root   string
	JSON   string // "", "off", "short" or "pretty"
	Stdout io.Writer
}

// Run runs one oomctl command (only "dump", the default).
func Run(ctx context.Context, o Options, args []string) error {
	if len(args) > 0 && args[0] != "dump" {
		return fmt.Errorf("unknown command %q", args[0])
	}
	if len(args) > 1 {
		return errors.New("dump takes no arguments")
	}
	vc, err := varlinkd.Dial(ctx, iosystemdoom.SocketAddress(o.Root))
	if err != nil {
		return fmt.Errorf("connecting to oomd (is it running?): %w", err)
	}
	defer vc.Close()
	st, err := iosteadoom.NewClient(vc).Describe(ctx)
	if err != nil {
		return fmt.Errorf("failed to dump oomd's state: %w", err)
	}
	switch o.JSON {
	case "short", "pretty":
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if o.JSON == "pretty" {
			var ind bytes.Buffer
			json.Indent(&ind, b, "", "  ")
			b = ind.Bytes()
		}
		_, err = o.Stdout.Write(append(b, '\n'))
		return err
	}
	return WriteDump(o.Stdout, st)
}

// WriteDump writes st as upstream's oomctl dump does.
func WriteDump(w io.Writer, st *iosteadoom.State) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Dry Run: %s\n", yesNo(st.DryRun))
	fmt.Fprintf(&b, "Swap Used Limit: %s\n", percent(st.SwapUsedLimit))
	fmt.Fprintf(&b, "Default Memory Pressure Limit: %s\n", percent(st.DefaultMemoryPressureLimit))
	fmt.Fprintf(&b, "Default Memory Pressure Duration: %s\n", seconds(st.DefaultMemoryPressureDurationUSec))
	b.WriteString("System Context:\n")
	fmt.Fprintf(&b, "\tMemory: Used: %s, Total: %s\n", FormatBytes(st.System.MemoryUsed), FormatBytes(st.System.MemoryTotal))
	fmt.Fprintf(&b, "\tSwap: Used: %s, Total: %s\n", FormatBytes(st.System.SwapUsed), FormatBytes(st.System.SwapTotal))
	b.WriteString("Swap Monitored CGroups:\n")
	for _, c := range st.SwapMonitored {
		fmt.Fprintf(&b, "\tPath: %s\n", c.Path)
		if c.SwapUsage == nil {
			b.WriteString("\t\tSwap Usage: (see System Context)\n")
		} else {
			fmt.Fprintf(&b, "\t\tSwap Usage: %s\n", FormatBytes(*c.SwapUsage))
		}
	}
	b.WriteString("Memory Pressure Monitored CGroups:\n")
	for _, c := range st.MemoryPressureMonitored {
		fmt.Fprintf(&b, "\tPath: %s\n", c.Path)
		fmt.Fprintf(&b, "\t\tMemory Pressure Limit: %s\n", percent(c.Limit))
		fmt.Fprintf(&b, "\t\tMemory Pressure Duration: %s\n", seconds(c.DurationUSec))
		fmt.Fprintf(&b, "\t\tPressure: Avg10: %s, Avg60: %s, Avg300: %s, Total: %s\n",
			hundredths(c.Pressure.Avg10), hundredths(c.Pressure.Avg60), hundredths(c.Pressure.Avg300), seconds(c.Pressure.TotalUSec))
		fmt.Fprintf(&b, "\t\tCurrent Memory Usage: %s\n", FormatBytes(c.CurrentMemoryUsage))
		if c.Path != "/" {
			fmt.Fprintf(&b, "\t\tMemory Min: %s\n", protection(c.MemoryMin))
			fmt.Fprintf(&b, "\t\tMemory Low: %s\n", protection(c.MemoryLow))
			fmt.Fprintf(&b, "\t\tPgscan: %d\n", c.Pgscan)
			fmt.Fprintf(&b, "\t\tLast Pgscan: %d\n", c.LastPgscan)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func hundredths(v int64) string { return fmt.Sprintf("%d.%02d", v/100, v%100) }

func percent(v int64) string { return hundredths(v) + "%" }

// seconds writes a µs span to the second, as upstream's dump does.
func seconds(us int64) string {
	return conf.FormatTimespan(time.Duration(us/1_000_000) * time.Second)
}

// protection writes memory.min/low: "infinity" for max.
func protection(v *int64) string {
	if v == nil {
		return "infinity"
	}
	return FormatBytes(*v)
}

// FormatBytes writes a size in 1024-based units with one decimal ("12.4G", "4.0K") or plain
// bytes below 1K ("512B"), as upstream's tools do.
func FormatBytes(n int64) string {
	if n < 0 {
		n = 0
	}
	u := uint64(n)
	units := []struct {
		suffix string
		factor uint64
	}{{"E", 1 << 60}, {"P", 1 << 50}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}
	for _, un := range units {
		if u >= un.factor {
			tenth := (u % un.factor) / (un.factor / 10)
			return strconv.FormatUint(u/un.factor, 10) + "." + strconv.FormatUint(tenth, 10) + un.suffix
		}
	}
	return strconv.FormatUint(u, 10) + "B"
}
