package steadctl

import (
	"reflect"
	"testing"
)

func TestMangle(t *testing.T) {
	got := mangle([]string{"foo", "bar.socket", "a.b", "x@y.service", "default.target"})
	want := []string{"foo.service", "bar.socket", "a.b.service", "x@y.service", "default.target"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mangle = %q, want %q", got, want)
	}
}
