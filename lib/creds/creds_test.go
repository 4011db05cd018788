package creds

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadAndList(t *testing.T) {
	t.Setenv(EnvDirectory, "")
	if _, err := Read("x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no directory: %v", err)
	}
	if names, err := List(); err != nil || names != nil {
		t.Errorf("List without directory: %v %v", names, err)
	}
	d := t.TempDir()
	t.Setenv(EnvDirectory, d)
	os.WriteFile(filepath.Join(d, "imds.vendor"), []byte("acme\n"), 0o400)
	os.WriteFile(filepath.Join(d, "big"), bytes.Repeat([]byte("x"), MaxSize+1), 0o400)
	os.Mkdir(filepath.Join(d, "adir"), 0o700)
	if v, ok, err := ReadString("imds.vendor"); err != nil || !ok || v != "acme\n" {
		t.Errorf("ReadString: %q %v %v", v, ok, err)
	}
	if _, ok, err := ReadString("missing"); err != nil || ok {
		t.Errorf("missing: %v %v", ok, err)
	}
	if _, err := Read("big"); err == nil {
		t.Error("oversized credential accepted")
	}
	if _, err := Read("adir"); err == nil {
		t.Error("directory accepted as credential")
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x"} {
		if _, err := Read(bad); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if names, err := List(); err != nil || !reflect.DeepEqual(names, []string{"big", "imds.vendor"}) {
		t.Errorf("List: %v %v", names, err)
	}
	t.Setenv(EnvDirectory, "relative/dir")
	if Dir() != "" {
		t.Error("relative directory accepted")
	}
}
