package conf

import (
	"errors"
	"math"
	"strconv"
	"testing"
	"time"
)

// at is an entry as the parser makes it.
func at(key, value string) Entry { return Entry{Key: key, Value: value, File: "t.conf", Line: 7} }

// wantErr checks that err is the located message want with a *ValueError inside.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	var ce *Error
	var ve *ValueError
	if !errors.As(err, &ce) || ce.Line != 7 || !errors.As(err, &ve) || err.Error() != want {
		t.Errorf("error %#v, want %q", err, want)
	}
}

func TestSet(t *testing.T) {
	var warned []error
	warn := func(err error) { warned = append(warned, err) }
	b := true
	if !Set(&b, Entry{}, Bool, warn) || !b {
		t.Error("an unset key changed the value")
	}
	if !Set(&b, at("K", ""), Bool, warn) || !b {
		t.Error("an empty assignment changed the value")
	}
	if Set(&b, at("K", "maybe"), Bool, warn) || !b {
		t.Error("a bad value changed the value or was not reported")
	}
	if !Set(&b, at("K", "off"), Bool, warn) || b {
		t.Error("a good value was not stored")
	}
	if len(warned) != 1 {
		t.Fatalf("warnings %v", warned)
	}
	wantErr(t, warned[0], `t.conf:7: K: invalid boolean "maybe"`)
}

func TestLocated(t *testing.T) {
	read := Located(ParseBytes)
	if v, err := read(at("Max", "1K")); err != nil || v != 1024 {
		t.Errorf("1K: %v %v", v, err)
	}
	_, err := read(at("Max", "1Q"))
	wantErr(t, err, `t.conf:7: Max: invalid size "1Q": unknown unit "Q"`)
	// A parser's own errors are kept as its cause.
	mine := errors.New("mine")
	_, err = Located(func(string) (int, error) { return 0, mine })(at("K", "x"))
	if !errors.Is(err, mine) || err.Error() != "t.conf:7: K: mine" {
		t.Errorf("%v", err)
	}
}

func TestBoolAndTimespan(t *testing.T) {
	if v, err := Bool(at("K", "Yes")); err != nil || !v {
		t.Errorf("Yes: %v %v", v, err)
	}
	_, err := Bool(at("K", ""))
	wantErr(t, err, `t.conf:7: K: invalid boolean ""`)
	if d, err := Timespan(at("K", "90")); err != nil || d != 90*time.Second {
		t.Errorf("90: %v %v", d, err)
	}
	if d, err := Timespan(at("K", "1min 30s")); err != nil || d != 90*time.Second {
		t.Errorf("1min 30s: %v %v", d, err)
	}
	_, err = Timespan(at("K", "5 fortnights"))
	wantErr(t, err, `t.conf:7: K: invalid time span "5 fortnights": number expected`)
}

func TestWord(t *testing.T) {
	read := Word("any", "ipv4", "both")
	for _, w := range []string{"any", "ipv4", "both"} {
		if v, err := read(at("Family", w)); err != nil || v != w {
			t.Errorf("%q: %q %v", w, v, err)
		}
	}
	for _, bad := range []string{"", "IPv4", "yes", "ipv4 ", "ipv"} {
		_, err := read(at("Family", bad))
		wantErr(t, err, `t.conf:7: Family: invalid Family= value `+strconv.Quote(bad))
	}
}

func TestBoolOrWord(t *testing.T) {
	read := BoolOrWord("ipv4", "fallback")
	for in, want := range map[string]string{"ipv4": "ipv4", "fallback": "fallback", "yes": "yes", "TRUE": "yes",
		"1": "yes", "no": "no", "Off": "no", "0": "no"} {
		if v, err := read(at("LLA", in)); err != nil || v != want {
			t.Errorf("%q: %q %v, want %q", in, v, err, want)
		}
	}
	for _, bad := range []string{"", "IPV4", "ipv6", "maybe"} {
		_, err := read(at("LLA", bad))
		wantErr(t, err, `t.conf:7: LLA: invalid LLA= value `+strconv.Quote(bad))
	}
	if v, err := BoolOrWord()(at("K", "on")); err != nil || v != "yes" {
		t.Errorf("no words: %q %v", v, err)
	}
}

func TestInt(t *testing.T) {
	signed := Int("unsigned integer", 0, math.MaxInt)
	for in, want := range map[string]int{"0": 0, "5": 5, "+5": 5, "-0": 0, "007": 7, "9223372036854775807": math.MaxInt} {
		if v, err := signed(at("Burst", in)); err != nil || v != want {
			t.Errorf("%q: %d %v", in, v, err)
		}
	}
	for _, bad := range []string{"", "-1", "1.5", "0x10", "1_000", " 1", "9223372036854775808", "five"} {
		_, err := signed(at("Burst", bad))
		wantErr(t, err, `t.conf:7: Burst: invalid unsigned integer `+strconv.Quote(bad))
	}
	small := Int("interface priority", math.MinInt32, math.MaxInt32)
	if v, err := small(at("P", "-2147483648")); err != nil || v != math.MinInt32 {
		t.Errorf("min: %d %v", v, err)
	}
	for _, bad := range []string{"2147483648", "-2147483649"} {
		_, err := small(at("P", bad))
		wantErr(t, err, `t.conf:7: P: invalid interface priority `+strconv.Quote(bad))
	}
	// Unsigned types take no sign at all.
	u32 := Int[uint32]("priority", 0, math.MaxUint32)
	if v, err := u32(at("Priority", "4294967295")); err != nil || v != math.MaxUint32 {
		t.Errorf("max: %d %v", v, err)
	}
	for _, bad := range []string{"+5", "-0", "4294967296"} {
		_, err := u32(at("Priority", bad))
		wantErr(t, err, `t.conf:7: Priority: invalid priority `+strconv.Quote(bad))
	}
	u64 := Int[uint64]("size", 1, math.MaxUint64)
	if v, err := u64(at("N", "18446744073709551615")); err != nil || v != math.MaxUint64 {
		t.Errorf("uint64 max: %d %v", v, err)
	}
	if _, err := u64(at("N", "0")); err == nil {
		t.Error("below min accepted")
	}
	i8 := Int[int8]("small", -3, 3)
	if _, err := i8(at("N", "200")); err == nil { // would wrap around in int8
		t.Error("200 accepted as int8")
	}
}

// FuzzReaders checks that the readers agree with the bare parsers they
// build on and that every error is located at the entry.
func FuzzReaders(f *testing.F) {
	for _, s := range []string{"", "0", "+7", "-7", "yes", "ipv4", "255", "256", "-129", "1min", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := at("K", s)
		located := func(err error) {
			var ce *Error
			if err != nil && (!errors.As(err, &ce) || ce.File != "t.conf" || ce.Line != 7) {
				t.Fatalf("%q: unlocated error %v", s, err)
			}
		}
		b, errB := Bool(e)
		pb, errP := ParseBool(s)
		located(errB)
		if b != pb || (errB == nil) != (errP == nil) {
			t.Fatalf("%q: Bool %v %v, ParseBool %v %v", s, b, errB, pb, errP)
		}
		w, err := BoolOrWord("ipv4")(e)
		located(err)
		switch {
		case s == "ipv4":
			if w != "ipv4" || err != nil {
				t.Fatalf("%q → %q %v", s, w, err)
			}
		case errP == nil:
			if w != map[bool]string{true: "yes", false: "no"}[pb] || err != nil {
				t.Fatalf("%q → %q %v", s, w, err)
			}
		case err == nil:
			t.Fatalf("%q accepted as %q", s, w)
		}
		i8, err := Int[int8]("n", math.MinInt8, math.MaxInt8)(e)
		located(err)
		if v, perr := strconv.ParseInt(s, 10, 8); (err == nil) != (perr == nil) || (err == nil && v != int64(i8)) {
			t.Fatalf("%q: Int[int8] %d %v, ParseInt %d %v", s, i8, err, v, perr)
		}
		u16, err := Int[uint16]("n", 0, math.MaxUint16)(e)
		located(err)
		if v, perr := strconv.ParseUint(s, 10, 16); (err == nil) != (perr == nil) || (err == nil && v != uint64(u16)) {
			t.Fatalf("%q: Int[uint16] %d %v, ParseUint %d %v", s, u16, err, v, perr)
		}
		_, err = Timespan(e)
		located(err)
	})
}
