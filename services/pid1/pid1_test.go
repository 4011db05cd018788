package pid1

import "testing"

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		"/run":          "/run",
		`/mnt/a\040b`:   "/mnt/a b",
		`/x\011y\134z`:  "/x\ty\\z",
		`/trailing\04`:  `/trailing\04`,
		`/not\999octal`: `/not\999octal`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
