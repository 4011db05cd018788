package pid1

import "testing"

// TestSiphash24 checks SipHash-2-4 against the reference vectors of the
// SipHash paper (key 00..0f, messages 00..len-1).
func TestSiphash24(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	want := map[int]uint64{0: 0x726fdb47dd0e0e31, 1: 0x74f839c593dc67fd, 8: 0x93f5f5799a932462, 15: 0xa129ca6149be45e5}
	for n, w := range want {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i)
		}
		if got := siphash24(key, msg); got != w {
			t.Errorf("len %d: %#x, want %#x", n, got, w)
		}
	}
}

// TestSleepBetween pins sd-event's coalescing: the latest point of the
// window that sits at the perturbation into a minute, 10 s, 1 s or 250 ms.
func TestSleepBetween(t *testing.T) {
	const s = 1_000_000
	for _, tc := range []struct{ a, b, perturb, want int64 }{
		{100 * s, 100*s + 1, 7 * s, 100 * s},                               // no room: the start
		{100 * s, 200 * s, 7 * s, 187 * s},                                 // a minute boundary + 7 s inside
		{100 * s, 110 * s, 7 * s, 107 * s},                                 // 10 s step
		{100*s + 100_000, 100*s + 900_000, 7*s + 300_000, 100*s + 300_000}, // 1 s step
		{100 * s, 100*s + 200_000, 7*s + 300_000, 100*s + 50_000},          // 250 ms step
		{100*s + 100, 100*s + 110, 0, 100*s + 110},                         // none fits: the end
	} {
		if got := sleepBetween(tc.a, tc.b, tc.perturb); got != tc.want {
			t.Errorf("sleepBetween(%d, %d, %d) = %d, want %d", tc.a, tc.b, tc.perturb, got, tc.want)
		}
	}
}
