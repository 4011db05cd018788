package oomctl

import (
	"bytes"
	"testing"

	"github.com/stead-os/stead/lib/api/iosteadoom"
)

func TestWriteDump(t *testing.T) {
	sw := int64(4096)
	min := int64(0)
	st := &iosteadoom.State{
		SwapUsedLimit: 9000, DefaultMemoryPressureLimit: 6000, DefaultMemoryPressureDurationUSec: 30_000_000,
		System:        iosteadoom.SystemContext{MemoryUsed: 13314398618, MemoryTotal: 33071248179, SwapUsed: 0, SwapTotal: 0},
		SwapMonitored: []iosteadoom.SwapCGroup{{Path: "/"}, {Path: "/user.slice", SwapUsage: &sw}},
		MemoryPressureMonitored: []iosteadoom.PressureCGroup{{Path: "/user.slice/app.slice", Limit: 5000, DurationUSec: 20_000_000,
			Pressure: iosteadoom.Pressure{Avg10: 1234, Avg60: 5, Avg300: 0, TotalUSec: 2_500_000}, CurrentMemoryUsage: 1536,
			MemoryMin: &min, Pgscan: 7, LastPgscan: 3}},
	}
	var b bytes.Buffer
	if err := WriteDump(&b, st); err != nil {
		t.Fatal(err)
	}
	want := "Dry Run: no\nSwap Used Limit: 90.00%\nDefault Memory Pressure Limit: 60.00%\nDefault Memory Pressure Duration: 30s\n" +
		"System Context:\n\tMemory: Used: 12.4G, Total: 30.8G\n\tSwap: Used: 0B, Total: 0B\n" +
		"Swap Monitored CGroups:\n\tPath: /\n\t\tSwap Usage: (see System Context)\n\tPath: /user.slice\n\t\tSwap Usage: 4.0K\n" +
		"Memory Pressure Monitored CGroups:\n\tPath: /user.slice/app.slice\n\t\tMemory Pressure Limit: 50.00%\n" +
		"\t\tMemory Pressure Duration: 20s\n\t\tPressure: Avg10: 12.34, Avg60: 0.05, Avg300: 0.00, Total: 2s\n" +
		"\t\tCurrent Memory Usage: 1.5K\n\t\tMemory Min: 0B\n\t\tMemory Low: infinity\n\t\tPgscan: 7\n\t\tLast Pgscan: 3\n"
	if b.String() != want {
		t.Errorf("dump:\n%s\nwant:\n%s", b.String(), want)
	}
}
