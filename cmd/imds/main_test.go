package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--help"}, 0, "Usage: imds"},
		{[]string{"-h"}, 0, "Usage: imds"},
		{[]string{"--version"}, 0, "imds (stead)"},
		{[]string{"-K", "help"}, 0, "ipv4-public\n"},
		{[]string{"--well-known=help"}, 0, "userdata-base64\n"},
		{[]string{"/a", "/b"}, 1, ""},
		{[]string{"-u", "--import"}, 1, ""},
		{[]string{"--json=bad"}, 1, ""},
		{[]string{"--cache=maybe"}, 1, ""},
		{[]string{"--nope"}, 1, ""},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("%q: %d %q %q", tc.args, code, out.String(), errb.String())
		}
	}
}
