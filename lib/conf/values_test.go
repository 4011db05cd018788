package conf

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseBool(t *testing.T) {
	for _, s := range []string{"1", "yes", "y", "true", "t", "on", "YES", "Yes", "Y", "TRUE", "True", "T", "ON", "oN"} {
		if v, err := ParseBool(s); err != nil || !v {
			t.Errorf("ParseBool(%q) = %v, %v; want true", s, v, err)
		}
	}
	for _, s := range []string{"0", "no", "n", "false", "f", "off", "NO", "No", "N", "FALSE", "F", "OFF", "oFf"} {
		if v, err := ParseBool(s); err != nil || v {
			t.Errorf("ParseBool(%q) = %v, %v; want false", s, v, err)
		}
	}
	for _, s := range []string{"", "2", "yess", "tru", " yes", "yes ", "enable", "-1", "01", "nope"} {
		_, err := ParseBool(s)
		var ve *ValueError
		if !errors.As(err, &ve) || ve.Type != "boolean" || ve.Value != s {
			t.Errorf("ParseBool(%q) error = %v", s, err)
		}
	}
	if _, err := ParseBool("maybe"); err == nil || err.Error() != `invalid boolean "maybe"` {
		t.Errorf("message: %v", err)
	}
}

func TestParseBytes(t *testing.T) {
	const (
		K = 1 << 10
		M = 1 << 20
		G = 1 << 30
		T = 1 << 40
		P = 1 << 50
		E = 1 << 60
	)
	good := []struct {
		in   string
		want uint64
	}{
		{"0", 0},
		{"1", 1},
		{"512", 512},
		{"1B", 1},
		{"1K", K},
		{"64K", 64 * K},
		{"1M", M},
		{"1G", G},
		{"1T", T},
		{"1P", P},
		{"1E", E},
		{"15E", 15 * E},
		{"1.5G", G + G/2},
		{"1.5K", 1536},
		{"0.5", 0},
		{"1.9", 1},
		{"10.M", 10 * M},
		{"0.1K", 102},
		{"1.00000000000000000000000001K", K},
		{"1 G", G},
		{"  2K", 2 * K},
		{"1G 512M", G + 512*M},
		{"1G512M", G + 512*M},
		{"1T 1G 1M 1K 1B", T + G + M + K + 1},
		{"1G 5", G + 5},
		{"18446744073709551615", math.MaxUint64},
	}
	for _, tt := range good {
		v, err := ParseBytes(tt.in)
		if err != nil || v != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tt.in, v, err, tt.want)
		}
	}
	bad := []string{
		"", " ", "K", "-1", "+1", "1k", "1KB", "1KiB", "1 KB", "1X", "1.5.5", ".5G", "1G ", "1M 1G", "1K 1K",
		"1 2", "16E", "18446744073709551616", "99999999999999999999999", "17179869184G", "15E 1024P",
		"18446744073709551615 1", "infinity", "1,5G",
	}
	for _, s := range bad {
		_, err := ParseBytes(s)
		var ve *ValueError
		if !errors.As(err, &ve) || ve.Type != "size" {
			t.Errorf("ParseBytes(%q) error = %v", s, err)
		}
	}
	if _, err := ParseBytes("12Q"); err == nil || !strings.Contains(err.Error(), `invalid size "12Q": unknown unit "Q"`) {
		t.Errorf("message: %v", err)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0", 1: "1", 1023: "1023", 1024: "1K", 1536: "1536", 1 << 20: "1M", 3 << 30: "3G",
		1 << 40: "1T", 1 << 50: "1P", 1 << 60: "1E", 15 << 60: "15E", math.MaxUint64: "18446744073709551615",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
		if v, err := ParseBytes(FormatBytes(n)); err != nil || v != n {
			t.Errorf("round trip %d: %d %v", n, v, err)
		}
	}
}

func TestParseProportions(t *testing.T) {
	type fn func(string) (int, error)
	tests := []struct {
		name string
		f    fn
		typ  string
		good map[string]int
		bad  []string
	}{
		{
			"percent", ParsePercent, "percentage",
			map[string]int{"0%": 0, "50%": 50, "100%": 100, "007%": 7},
			[]string{"", "%", "50", "101%", "-1%", "+1%", "5.5%", "50 %", " 50%", "50%%", "x%", "1‰", "99999999999%"},
		},
		{
			"permille", ParsePermille, "permille",
			map[string]int{"0%": 0, "50%": 500, "12.5%": 125, "100%": 1000, "100.0%": 1000, "0‰": 0, "500‰": 500, "1000‰": 1000},
			[]string{"", "50", "100.1%", "1001‰", "12.34%", "12.%", ".5%", "1.5‰", "-1‰", "50‱", "1e2‰"},
		},
		{
			"permyriad", ParsePermyriad, "permyriad",
			map[string]int{
				"0%": 0, "50%": 5000, "12.34%": 1234, "12.3%": 1230, "100%": 10000, "100.00%": 10000,
				"123.4‰": 1234, "500‰": 5000, "1000‰": 10000, "5000‱": 5000, "1‱": 1, "10000‱": 10000,
			},
			[]string{"", "5000", "100.01%", "1000.1‰", "10001‱", "12.345%", "12.34‰", "1.5‱", "-1%", "%", "‱"},
		},
	}
	for _, tt := range tests {
		for in, want := range tt.good {
			if v, err := tt.f(in); err != nil || v != want {
				t.Errorf("%s(%q) = %d, %v; want %d", tt.name, in, v, err, want)
			}
		}
		for _, in := range tt.bad {
			_, err := tt.f(in)
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Type != tt.typ || ve.Value != in {
				t.Errorf("%s(%q) error = %v", tt.name, in, err)
			}
		}
	}
	if _, err := ParsePercent("101%"); err == nil || err.Error() != `invalid percentage "101%": out of range (at most 100%)` {
		t.Errorf("message: %v", err)
	}
}
