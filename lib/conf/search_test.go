package conf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// tree builds a fake root. Keys are in-root paths; a value starting with
// "->" makes a symlink to the rest, "/" at the end of a key makes a
// directory, anything else is file content.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, v := range files {
		h := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(h, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(h), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(v, "->"); ok {
			if err := os.Symlink(target, h); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(h, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// rel strips root from the paths read, for comparison.
func rel(root string, ps []string) []string {
	var r []string
	for _, p := range ps {
		r = append(r, strings.TrimPrefix(p, root))
	}
	return r
}

func TestLoadSearch(t *testing.T) {
	const name = "systemd/x.conf"
	tests := []struct {
		name   string
		files  map[string]string
		paths  []string          // files applied, in order
		get    map[string]string // X.Key → value ("<unset>" for absent)
		masked bool
	}{
		{
			name:  "nothing",
			files: map[string]string{"etc/": ""},
			get:   map[string]string{"A": "<unset>"},
		},
		{
			name:  "vendor only",
			files: map[string]string{"usr/lib/systemd/x.conf": "[X]\nA=usr\n"},
			paths: []string{"/usr/lib/systemd/x.conf"},
			get:   map[string]string{"A": "usr"},
		},
		{
			name: "first main file wins and masks the others",
			files: map[string]string{
				"etc/systemd/x.conf":           "[X]\nA=etc\n",
				"run/systemd/x.conf":           "[X]\nA=run\nB=run\n",
				"usr/local/lib/systemd/x.conf": "[X]\nA=local\n",
				"usr/lib/systemd/x.conf":       "[X]\nA=usr\nC=usr\n",
			},
			paths: []string{"/etc/systemd/x.conf"},
			get:   map[string]string{"A": "etc", "B": "<unset>", "C": "<unset>"},
		},
		{
			name: "run before usr/local/lib before usr/lib",
			files: map[string]string{
				"usr/local/lib/systemd/x.conf": "[X]\nA=local\n",
				"usr/lib/systemd/x.conf":       "[X]\nA=usr\n",
			},
			paths: []string{"/usr/local/lib/systemd/x.conf"},
			get:   map[string]string{"A": "local"},
		},
		{
			name: "main masked by /dev/null, drop-ins still apply",
			files: map[string]string{
				"etc/systemd/x.conf":              "->/dev/null",
				"usr/lib/systemd/x.conf":          "[X]\nA=usr\n",
				"usr/lib/systemd/x.conf.d/a.conf": "[X]\nB=dropin\n",
			},
			paths:  []string{"/usr/lib/systemd/x.conf.d/a.conf"},
			get:    map[string]string{"A": "<unset>", "B": "dropin"},
			masked: true,
		},
		{
			name: "main masked by relative link to /dev/null",
			files: map[string]string{
				"etc/systemd/x.conf":     "->../../../../dev/null",
				"usr/lib/systemd/x.conf": "[X]\nA=usr\n",
			},
			get:    map[string]string{"A": "<unset>"},
			masked: true,
		},
		{
			name: "empty main file masks too",
			files: map[string]string{
				"etc/systemd/x.conf":     "",
				"usr/lib/systemd/x.conf": "[X]\nA=usr\n",
			},
			get:    map[string]string{"A": "<unset>"},
			masked: true,
		},
		{
			name: "directory or dangling link is no main file",
			files: map[string]string{
				"etc/systemd/x.conf/":    "",
				"run/systemd/x.conf":     "->/nowhere",
				"usr/lib/systemd/x.conf": "[X]\nA=usr\n",
			},
			paths: []string{"/usr/lib/systemd/x.conf"},
			get:   map[string]string{"A": "usr"},
		},
		{
			name: "absolute symlink resolves inside root",
			files: map[string]string{
				"etc/systemd/x.conf":     "->/usr/share/stead/x.conf",
				"usr/share/stead/x.conf": "[X]\nA=shared\n",
			},
			paths: []string{"/etc/systemd/x.conf"},
			get:   map[string]string{"A": "shared"},
		},
		{
			name: "drop-ins from all dirs in file name order after main",
			files: map[string]string{
				"usr/lib/systemd/x.conf":                 "[X]\nA=main\nB=main\n",
				"usr/lib/systemd/x.conf.d/10-a.conf":     "[X]\nA=10\n",
				"etc/systemd/x.conf.d/20-b.conf":         "[X]\nA=20\n",
				"run/systemd/x.conf.d/05-c.conf":         "[X]\nA=05\nB=05\n",
				"usr/local/lib/systemd/x.conf.d/15.conf": "[X]\nC=15\n",
			},
			paths: []string{
				"/usr/lib/systemd/x.conf",
				"/run/systemd/x.conf.d/05-c.conf",
				"/usr/lib/systemd/x.conf.d/10-a.conf",
				"/usr/local/lib/systemd/x.conf.d/15.conf",
				"/etc/systemd/x.conf.d/20-b.conf",
			},
			get: map[string]string{"A": "20", "B": "05", "C": "15"},
		},
		{
			name: "same drop-in name: higher priority dir wins",
			files: map[string]string{
				"usr/lib/systemd/x.conf.d/10-a.conf": "[X]\nA=usr\nB=usr\n",
				"run/systemd/x.conf.d/10-a.conf":     "[X]\nA=run\n",
				"etc/systemd/x.conf.d/10-a.conf/":    "", // a directory does not count
			},
			paths: []string{"/run/systemd/x.conf.d/10-a.conf"},
			get:   map[string]string{"A": "run", "B": "<unset>"},
		},
		{
			name: "drop-in masked by /dev/null",
			files: map[string]string{
				"usr/lib/systemd/x.conf.d/10-a.conf": "[X]\nA=usr\n",
				"usr/lib/systemd/x.conf.d/20-b.conf": "[X]\nB=usr\n",
				"etc/systemd/x.conf.d/10-a.conf":     "->/dev/null",
			},
			paths: []string{"/usr/lib/systemd/x.conf.d/20-b.conf"},
			get:   map[string]string{"A": "<unset>", "B": "usr"},
		},
		{
			name: "drop-in masked by empty file",
			files: map[string]string{
				"usr/lib/systemd/x.conf.d/10-a.conf": "[X]\nA=usr\n",
				"etc/systemd/x.conf.d/10-a.conf":     "",
			},
			get: map[string]string{"A": "<unset>"},
		},
		{
			name: "dangling drop-in link masks nothing",
			files: map[string]string{
				"usr/lib/systemd/x.conf.d/10-a.conf": "[X]\nA=usr\n",
				"etc/systemd/x.conf.d/10-a.conf":     "->/gone.conf",
			},
			paths: []string{"/usr/lib/systemd/x.conf.d/10-a.conf"},
			get:   map[string]string{"A": "usr"},
		},
		{
			name: "only visible *.conf files",
			files: map[string]string{
				"etc/systemd/x.conf.d/a.conf":      "[X]\nA=a\n",
				"etc/systemd/x.conf.d/b.conf~":     "[X]\nA=backup\n",
				"etc/systemd/x.conf.d/c.txt":       "[X]\nA=txt\n",
				"etc/systemd/x.conf.d/.d.conf":     "[X]\nA=hidden\n",
				"etc/systemd/x.conf.d/e.conf.orig": "[X]\nA=orig\n",
			},
			paths: []string{"/etc/systemd/x.conf.d/a.conf"},
			get:   map[string]string{"A": "a"},
		},
		{
			name: "symlinked drop-in dir and drop-in",
			files: map[string]string{
				"etc/systemd/x.conf.d":      "->/srv/dropins",
				"srv/dropins/a.conf":        "->../other/a.conf",
				"srv/other/a.conf":          "[X]\nA=linked\n",
				"usr/lib/systemd/x.conf.d/": "",
			},
			paths: []string{"/etc/systemd/x.conf.d/a.conf"},
			get:   map[string]string{"A": "linked"},
		},
		{
			name: "drop-in dir that is a file is ignored",
			files: map[string]string{
				"etc/systemd/x.conf.d":            "not a dir",
				"usr/lib/systemd/x.conf.d/a.conf": "[X]\nA=usr\n",
			},
			paths: []string{"/usr/lib/systemd/x.conf.d/a.conf"},
			get:   map[string]string{"A": "usr"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tree(t, tt.files)
			f, err := LoadSearch(root, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := rel(root, f.Paths); !reflect.DeepEqual(got, tt.paths) {
				t.Errorf("paths %q, want %q", got, tt.paths)
			}
			for k, want := range tt.get {
				v, ok := f.Get("X", k)
				if !ok {
					v = "<unset>"
				}
				if v != want {
					t.Errorf("%s = %q, want %q", k, v, want)
				}
			}
			if f.MainMasked != tt.masked {
				t.Errorf("MainMasked = %v", f.MainMasked)
			}
			if len(f.Warnings) > 0 {
				t.Errorf("warnings: %v", f.Warnings)
			}
		})
	}
}

func TestLoadSearchEmptyReset(t *testing.T) {
	root := tree(t, map[string]string{
		"usr/lib/systemd/x.conf":           "[X]\nDNS=a\nDNS=b\nNTP=n1\n",
		"etc/systemd/x.conf.d/50-dns.conf": "[X]\nDNS=\nDNS=c\n",
		"etc/systemd/x.conf.d/60-ntp.conf": "[X]\nNTP=n2\n",
		"etc/systemd/x.conf.d/70-ntp.conf": "[X]\nNTP=\n",
	})
	f, err := LoadSearch(root, "systemd/x.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := f.Values("X", "DNS"); !reflect.DeepEqual(v, []string{"c"}) {
		t.Errorf("DNS %q, want [c]", v)
	}
	if v := f.Values("X", "NTP"); v != nil {
		t.Errorf("NTP %q, want none", v)
	}
	es := f.Entries("X", "DNS")
	if len(es) != 1 || es[0].File != filepath.Join(root, "etc/systemd/x.conf.d/50-dns.conf") || es[0].Line != 3 {
		t.Errorf("entry location %+v", es)
	}
}

func TestLoadSearchWarnings(t *testing.T) {
	root := tree(t, map[string]string{
		"etc/systemd/x.conf":          "[X]\nA=1\noops\n",
		"etc/systemd/x.conf.d/a.conf": "B=before any section\n[X]\nB=2\n",
	})
	var hooked []string
	f, err := LoadSearch(root, "systemd/x.conf", &Options{Warn: func(e error) { hooked = append(hooked, e.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		root + "/etc/systemd/x.conf:3: missing '=', ignoring line",
		root + "/etc/systemd/x.conf.d/a.conf:1: assignment outside of any section, ignoring",
	}
	var got []string
	for _, w := range f.Warnings {
		got = append(got, w.Error())
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(hooked, want) {
		t.Errorf("warnings %q\nhooked %q\nwant %q", got, hooked, want)
	}
	if v, _ := f.Get("X", "B"); v != "2" {
		t.Errorf("B = %q", v)
	}
}

func TestLoadSearchErrors(t *testing.T) {
	for _, n := range []string{"", "/etc/x.conf", "../x.conf", "a/../../x.conf", "a//b.conf", ".."} {
		if _, err := LoadSearch(t.TempDir(), n, nil); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	// A symlink loop is an I/O failure: the caller keeps its old config.
	root := tree(t, map[string]string{
		"etc/systemd/x.conf": "->/etc/systemd/y.conf",
		"etc/systemd/y.conf": "->/etc/systemd/x.conf",
	})
	_, err := LoadSearch(root, "systemd/x.conf", nil)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, syscall.ELOOP) || e.File != root+"/etc/systemd/x.conf" {
		t.Errorf("loop: got %v", err)
	}
	root = tree(t, map[string]string{
		"etc/systemd/x.conf.d/a.conf": "->b.conf",
		"etc/systemd/x.conf.d/b.conf": "->a.conf",
	})
	if _, err := LoadSearch(root, "systemd/x.conf", nil); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("drop-in loop: got %v", err)
	}
}

func TestLoadSearchRealRoot(t *testing.T) {
	// Nothing is expected to exist under this name on any machine; both
	// spellings of the real root must work and find nothing.
	for _, root := range []string{"", "/"} {
		f, err := LoadSearch(root, "stead-conf-test-nonexistent/x.conf", nil)
		if err != nil || len(f.Paths) != 0 || len(f.Sections()) != 0 {
			t.Errorf("root %q: %v %+v", root, err, f)
		}
	}
}

func TestRootEscape(t *testing.T) {
	// ".." and absolute links stop at the root: nothing outside is read.
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.conf"), []byte("[X]\nA=outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := tree(t, map[string]string{
		"etc/systemd/x.conf":          "->../../../../../../../../" + outside + "/secret.conf",
		"etc/systemd/x.conf.d/a.conf": "->" + outside + "/secret.conf",
	})
	f, err := LoadSearch(root, "systemd/x.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := f.Get("X", "A"); ok {
		t.Errorf("read %q from outside the root", v)
	}
}

func TestFindDropinsUnitStyle(t *testing.T) {
	// lib/unit passes its own directory list: per-unit, then per-type
	// drop-in directories, in each search directory.
	root := tree(t, map[string]string{
		"etc/systemd/system/foo.service.d/override.conf": "[Service]\nNice=5\n",
		"usr/lib/systemd/system/foo.service.d/10-a.conf": "[Service]\nNice=1\n",
		"usr/lib/systemd/system/service.d/10-a.conf":     "[Service]\nNice=2\n",
		"usr/lib/systemd/system/service.d/05-all.conf":   "[Service]\nNice=0\n",
		"usr/lib/systemd/system/foo.service":             "[Service]\nExecStart=/bin/foo\n",
	})
	dirs := []string{
		"/etc/systemd/system/foo.service.d",
		"/etc/systemd/system/service.d",
		"/usr/lib/systemd/system/foo.service.d",
		"/usr/lib/systemd/system/service.d",
	}
	got, err := FindDropins(root, dirs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/usr/lib/systemd/system/service.d/05-all.conf",
		"/usr/lib/systemd/system/foo.service.d/10-a.conf",
		"/etc/systemd/system/foo.service.d/override.conf",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	main, isMask, err := FindMain(root, []string{"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system"}, "foo.service")
	if err != nil || isMask || main != "/usr/lib/systemd/system/foo.service" {
		t.Fatalf("FindMain = %q %v %v", main, isMask, err)
	}
	f, err := LoadFiles(root, main, got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Get("Service", "Nice"); v != "5" {
		t.Errorf("Nice = %q", v)
	}
	if v, _ := f.Get("Service", "ExecStart"); v != "/bin/foo" {
		t.Errorf("ExecStart = %q", v)
	}
}

func TestLoadFilesVanished(t *testing.T) {
	root := tree(t, map[string]string{"etc/a.conf": "[X]\nA=1\n"})
	f, err := LoadFiles(root, "/etc/gone.conf", []string{"/etc/a.conf"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || !strings.HasPrefix(f.Warnings[0].Error(), root+"/etc/gone.conf: ") {
		t.Errorf("warnings %v", f.Warnings)
	}
	if v, _ := f.Get("X", "A"); v != "1" {
		t.Errorf("A = %q", v)
	}
}

func TestLoadFilesUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files regardless of permissions")
	}
	root := tree(t, map[string]string{"etc/a.conf": "[X]\nA=1\n"})
	if err := os.Chmod(filepath.Join(root, "etc/a.conf"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFiles(root, "/etc/a.conf", nil, nil); !errors.Is(err, os.ErrPermission) {
		t.Errorf("got %v, want permission error", err)
	}
}

func TestCleanRoot(t *testing.T) {
	for in, want := range map[string]string{"": "", "/": "", "//": "", "/tmp/r/": "/tmp/r", "/tmp/r/../s": "/tmp/s"} {
		if got := cleanRoot(in); got != want {
			t.Errorf("cleanRoot(%q) = %q, want %q", in, got, want)
		}
	}
}
