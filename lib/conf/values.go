package conf

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// ParseBool parses a boolean setting. True is any of 1, yes, y, true, t,
// on; false is any of 0, no, n, false, f, off; letters in any case.
func ParseBool(s string) (bool, error) {
	for _, w := range [...]string{"1", "yes", "y", "true", "t", "on"} {
		if strings.EqualFold(s, w) {
			return true, nil
		}
	}
	for _, w := range [...]string{"0", "no", "n", "false", "f", "off"} {
		if strings.EqualFold(s, w) {
			return false, nil
		}
	}
	return false, valueErr("boolean", s, "")
}

// sizeUnits are the suffixes of ParseBytes, largest first: later
// components of a sum must use strictly smaller units.
var sizeUnits = [...]struct {
	suffix string
	factor uint64
}{
	{"E", 1 << 60},
	{"P", 1 << 50},
	{"T", 1 << 40},
	{"G", 1 << 30},
	{"M", 1 << 20},
	{"K", 1 << 10},
	{"B", 1},
	{"", 1},
}

// ParseBytes parses a size in bytes: a decimal number with an optional
// fraction and an optional unit K, M, G, T, P or E (powers of 1024,
// upper case only) or B (bytes), e.g. "512", "64K", "1.5G". Whitespace may
// separate number and unit, and several terms in decreasing units add up
// ("1G 512M"). Fractions of a byte are dropped. The words "infinity" or
// "max", which some settings accept, are the caller's to handle.
func ParseBytes(s string) (uint64, error) {
	const typ = "size"
	if s == "" {
		return 0, valueErr(typ, s, "empty")
	}
	var total uint64
	p := s
	next := 0 // first unit allowed for the next term
	for p != "" {
		p = strings.TrimLeft(p, whitespace)
		i := digits(p)
		if i == 0 {
			return 0, valueErr(typ, s, "number expected")
		}
		n, err := strconv.ParseUint(p[:i], 10, 64)
		if err != nil {
			return 0, valueErr(typ, s, "number out of range")
		}
		p = p[i:]
		var frac string
		if strings.HasPrefix(p, ".") {
			j := digits(p[1:])
			frac = p[1 : 1+j]
			p = p[1+j:]
		}
		p = strings.TrimLeft(p, whitespace)
		u := next
		for ; u < len(sizeUnits); u++ {
			if strings.HasPrefix(p, sizeUnits[u].suffix) {
				break
			}
		}
		if u == len(sizeUnits) {
			return 0, valueErr(typ, s, "unknown or misordered unit")
		}
		if sizeUnits[u].suffix == "" && p != "" && digits(p) == 0 {
			return 0, valueErr(typ, s, "unknown unit "+strconv.Quote(p))
		}
		f := sizeUnits[u].factor
		hi, v := bits.Mul64(n, f)
		if hi != 0 {
			return 0, valueErr(typ, s, "too large")
		}
		v, carry := bits.Add64(v, fraction(frac, f), 0)
		if carry != 0 {
			return 0, valueErr(typ, s, "too large")
		}
		total, carry = bits.Add64(total, v, 0)
		if carry != 0 {
			return 0, valueErr(typ, s, "too large")
		}
		p = p[len(sizeUnits[u].suffix):]
		next = u + 1
	}
	return total, nil
}

// fraction returns floor(0.frac × factor) exactly, using at most 19
// digits of frac (more cannot change the result by more than one).
func fraction(frac string, factor uint64) uint64 {
	if len(frac) > 19 {
		frac = frac[:19]
	}
	if frac == "" {
		return 0
	}
	num, _ := strconv.ParseUint(frac, 10, 64) // ≤ 19 digits: fits
	den := uint64(1)
	for range len(frac) {
		den *= 10
	}
	hi, lo := bits.Mul64(num, factor)
	q, _ := bits.Div64(hi, lo, den) // hi < den because num < den
	return q
}

// digits returns the length of the run of ASCII digits s starts with.
func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// FormatBytes formats n so that ParseBytes returns n again, in the largest
// unit that divides it exactly (1536 → "1536", 1048576 → "1M").
func FormatBytes(n uint64) string {
	for _, u := range sizeUnits[:6] {
		if n >= u.factor && n%u.factor == 0 {
			return strconv.FormatUint(n/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10)
}

// ParsePercent parses a whole percentage between 0 and 100 written with a
// percent sign, "50%", and returns the number (50).
func ParsePercent(s string) (int, error) {
	v, err := parseParts(s, "percentage", []part{{"%", 0}}, 100)
	return v, err
}

// ParsePermille parses a proportion between 0 and 1000 per mille, written
// either as "500‰" or as a percentage with at most one decimal, "50%" or
// "12.5%", and returns it in per mille (500, 125).
func ParsePermille(s string) (int, error) {
	return parseParts(s, "permille", []part{{"‰", 0}, {"%", 1}}, 1000)
}

// ParsePermyriad parses a proportion between 0 and 10000 per ten thousand,
// written as "5000‱", as per mille with at most one decimal ("500‰",
// "123.4‰"), or as a percentage with at most two decimals ("50%",
// "12.34%"), and returns it in ‱ (5000, 1234).
func ParsePermyriad(s string) (int, error) {
	return parseParts(s, "permyriad", []part{{"‱", 0}, {"‰", 1}, {"%", 2}}, 10000)
}

// part is one accepted notation for a proportion: its sign and how many
// decimals it may carry to reach the result's resolution.
type part struct {
	sign     string
	decimals int
}

func parseParts(s, typ string, parts []part, max int) (int, error) {
	for _, pt := range parts {
		num, ok := strings.CutSuffix(s, pt.sign)
		if !ok {
			continue
		}
		whole, frac, dot := strings.Cut(num, ".")
		if whole == "" || digits(whole) != len(whole) {
			return 0, valueErr(typ, s, "number expected before "+pt.sign)
		}
		if dot && (frac == "" || digits(frac) != len(frac)) {
			return 0, valueErr(typ, s, "digits expected after the decimal point")
		}
		if len(frac) > pt.decimals {
			if pt.decimals == 0 {
				return 0, valueErr(typ, s, "no decimals allowed with "+pt.sign)
			}
			return 0, valueErr(typ, s, "at most "+strconv.Itoa(pt.decimals)+" decimals allowed with "+pt.sign)
		}
		v, err := strconv.ParseUint(whole, 10, 32)
		if err != nil {
			return 0, valueErr(typ, s, "out of range")
		}
		for i := range pt.decimals {
			v *= 10
			if i < len(frac) {
				v += uint64(frac[i] - '0')
			}
		}
		if v > uint64(max) || v > math.MaxInt32 {
			return 0, valueErr(typ, s, "out of range (at most "+formatParts(max, parts[len(parts)-1])+")")
		}
		return int(v), nil
	}
	signs := make([]string, len(parts))
	for i, pt := range parts {
		signs[i] = pt.sign
	}
	return 0, valueErr(typ, s, "must end in "+strings.Join(signs, " or "))
}

// formatParts writes the upper bound in the most familiar notation
// (percent), e.g. "100%".
func formatParts(max int, pt part) string {
	div := 1
	for range pt.decimals {
		div *= 10
	}
	return strconv.Itoa(max/div) + pt.sign
}
