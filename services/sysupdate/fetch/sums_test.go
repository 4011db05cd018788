package fetch

import (
	"crypto/sha256"
	"path"
	"strings"
	"testing"
)

func TestParseSHA256SUMS(t *testing.T) {
	a, b := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	hexA := "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
	hexB := "3E23E8160039594A33894F6564E1B1348BBD7A0088D42C4ACB73EEAED59C009D" // upper case
	data := hexA + "  foo_1.raw.xz\n" + hexB + " *bar 2.efi\n\n" +
		"\\" + hexA + "  we\\\\ird\\nname\n" +
		hexA + " *foo_1/bar.efi\n" + hexB + "  a/b/c_2.raw\n"
	sums, err := ParseSHA256SUMS([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if sums["foo_1/bar.efi"] != a || sums["a/b/c_2.raw"] != b {
		t.Fatalf("subpaths: %v", sums)
	}
	if len(sums) != 5 || sums["foo_1.raw.xz"] != a || sums["bar 2.efi"] != b || sums["we\\ird\nname"] != a {
		t.Fatalf("%v", sums)
	}
	if s, err := ParseSHA256SUMS(nil); err != nil || len(s) != 0 {
		t.Fatalf("empty file: %v %v", s, err)
	}
}

func TestParseSHA256SUMSErrors(t *testing.T) {
	good := strings.Repeat("ab", 32)
	for data, line := range map[string]string{
		good + "  a\nnonsense\n":           "line 2",
		good + " a\n":                      "line 1",
		good + "\ta\n":                     "line 1",
		good[:63] + "  a\n":                "line 1",
		strings.Repeat("zz", 32) + "  a\n": "line 1",
		good + "  \n":                      "line 1",
		good + "  /a/b\n":                  "line 1",
		good + "  ../a\n":                  "line 1",
		good + "  a/../b\n":                "line 1",
		good + "  a/./b\n":                 "line 1",
		good + "  ./a\n":                   "line 1",
		good + "  a//b\n":                  "line 1",
		good + "  a/\n":                    "line 1",
		good + "  ..\n":                    "line 1",
		good + "  .\n":                     "line 1",
		good + "  a\n" + good + " *a\n":    "line 2",
		"\n\n\\" + good + "  a\\x\n":       "line 3",
		"\\" + good + "  a\\\n":            "line 1",
		"# comment\n":                      "line 1",
		"SHA256 (a) = " + good + "\n":      "line 1",
	} {
		_, err := ParseSHA256SUMS([]byte(data))
		if err == nil || !strings.Contains(err.Error(), line+":") {
			t.Errorf("%q: %v, want an error naming %s", data, err, line)
		}
	}
}

func FuzzParseSHA256SUMS(f *testing.F) {
	good := strings.Repeat("ab", 32)
	f.Add([]byte(good + "  a.raw\n" + good + " *b.raw\n"))
	f.Add([]byte("\\" + good + "  a\\nb\n"))
	f.Add([]byte("x\n"))
	f.Add([]byte(good + "  a/../b\n" + good + "  c/d\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := ParseSHA256SUMS(data)
		if err != nil {
			return
		}
		for name := range sums {
			if name == "" || strings.ContainsRune(name, 0) || path.IsAbs(name) || path.Clean(name) != name ||
				name == ".." || strings.HasPrefix(name, "../") {
				t.Fatalf("accepted name %q", name)
			}
		}
	})
}
