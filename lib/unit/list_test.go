package unit

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// bigDepNames is how many distinct names the large-list tests use: the size
// at which a quadratic duplicate check took seconds inside the manager.
const bigDepNames = 50_000

// bigDepUnit writes a unit whose After= names n distinct units, ten to a
// line, then names every one of them again in reverse order, so that half
// the names are repeats.
func bigDepUnit(n int) string {
	var b strings.Builder
	b.WriteString("[Unit]\n")
	for i := 0; i < n; i += 10 {
		b.WriteString("After=")
		for j := i; j < min(i+10, n); j++ {
			fmt.Fprintf(&b, "d%d.service ", j)
		}
		b.WriteString("\n")
	}
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "After=d%d.service\n", i)
	}
	return b.String()
}

func TestLargeDependencyList(t *testing.T) {
	u := parseUnitText(t, "big.target", bigDepUnit(bigDepNames))
	u.parseUnit(func(err error) { t.Error(err) })
	if len(u.Unit.After) != bigDepNames {
		t.Fatalf("got %d names, want %d", len(u.Unit.After), bigDepNames)
	}
	for i, n := range u.Unit.After {
		if want := fmt.Sprintf("d%d.service", i); n != want {
			t.Fatalf("After[%d] = %q, want %q (first occurrence order)", i, n, want)
		}
	}
}

// TestDependencyListResetAndRepeats checks the small cases the set must keep:
// repeats within and across lines are dropped, first occurrence wins, and an
// empty assignment starts the list afresh, so a name seen before it may come
// back.
func TestDependencyListResetAndRepeats(t *testing.T) {
	u := parseUnitText(t, "a.service", `[Unit]
Wants=x.service y.service x.service
Wants=y.service z.service
After=x.service
After=
After=b.service a.service b.service
After=x.service a.service
[Service]
ExecStart=/bin/true
`)
	u.parseUnit(func(err error) { t.Error(err) })
	if want := []string{"x.service", "y.service", "z.service"}; !reflect.DeepEqual(u.Unit.Wants, want) {
		t.Errorf("Wants = %q, want %q", u.Unit.Wants, want)
	}
	if want := []string{"b.service", "a.service", "x.service"}; !reflect.DeepEqual(u.Unit.After, want) {
		t.Errorf("After = %q, want %q", u.Unit.After, want)
	}
	if u.Unit.Before != nil {
		t.Errorf("Before = %q, want nil", u.Unit.Before)
	}
}

func TestAppendUniq(t *testing.T) {
	got := appendUniq([]string{"a", "b"}, "b", "c", "a", "c", "d")
	if want := []string{"a", "b", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q want %q", got, want)
	}
	if got := appendUniq(nil); got != nil {
		t.Errorf("nothing appended to nil gave %q", got)
	}
}

// TestConditionResets checks that an empty Condition*= forgets only its own
// kind, however the kinds interleave, including many resets of a kind
// that has nothing to forget.
func TestConditionResets(t *testing.T) {
	var b strings.Builder
	b.WriteString("[Unit]\nConditionPathExists=/a\nAssertPathExists=/b\n")
	for range 1000 {
		b.WriteString("ConditionPathExists=/x\nConditionHost=\n")
	}
	b.WriteString("ConditionPathExists=\nConditionPathExists=!/c\nAssertPathExists=|/d\nConditionHost=h\n")
	u := parseUnitText(t, "a.target", b.String())
	u.parseUnit(func(err error) { t.Error(err) })
	want := []Condition{
		{Kind: "PathExists", Assert: true, Value: "/b"},
		{Kind: "PathExists", Negate: true, Value: "/c"},
		{Kind: "PathExists", Assert: true, Trigger: true, Value: "/d"},
		{Kind: "Host", Value: "h"},
	}
	if !reflect.DeepEqual(u.Unit.Conditions, want) {
		t.Errorf("got %+v\nwant %+v", u.Unit.Conditions, want)
	}
}

// BenchmarkDependencyList parses and reads a unit whose After= lists
// bigDepNames names, each twice.
func BenchmarkDependencyList(b *testing.B) {
	text := bigDepUnit(bigDepNames)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		u := parseUnitText(b, "big.target", text)
		u.parseUnit(func(err error) { b.Fatal(err) })
		if len(u.Unit.After) != bigDepNames {
			b.Fatal(len(u.Unit.After))
		}
	}
}

// BenchmarkConditionResets parses a unit that alternates bigDepNames/2
// conditions of one kind with as many resets of another kind.
func BenchmarkConditionResets(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[Unit]\n")
	for range bigDepNames / 2 {
		sb.WriteString("ConditionPathExists=/x\nConditionHost=\n")
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		u := parseUnitText(b, "big.target", text)
		u.parseUnit(func(err error) { b.Fatal(err) })
		if len(u.Unit.Conditions) != bigDepNames/2 {
			b.Fatal(len(u.Unit.Conditions))
		}
	}
}

// BenchmarkWantsDirectory loads a unit whose .wants/ directory holds
// bigDepNames/10 links.
func BenchmarkWantsDirectory(b *testing.B) {
	root := b.TempDir()
	write(b, root, "etc/systemd/system/big.target", "[Unit]\nDescription=big\n")
	for i := range bigDepNames / 10 {
		write(b, root, fmt.Sprintf("etc/systemd/system/big.target.wants/w%d.service", i), "")
	}
	for b.Loop() {
		u, err := Load(root, "big.target", &Options{Dirs: []string{"/etc/systemd/system"}})
		if err != nil || len(u.Unit.Wants) != bigDepNames/10 {
			b.Fatal(err)
		}
	}
}
