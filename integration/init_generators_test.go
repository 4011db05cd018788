//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

// initGenerator writes units into all three output directories: gen.service (normal, pulled
// in by default.target.wants/ there, its description and output naming the round in
// ROOT/round), early.service and prio.target (early; /etc also has prio.target, the early
// directory wins), late.service and low.target (late; /usr also has low.target and wins).
const initGenerator = `#!/bin/sh
set -e
round=$(cat @ROOT@/round)
echo "$SYSTEMD_SCOPE" > @ROOT@/out/scope
printf '[Unit]\nDescription=generated round %s\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c "echo %s >> @ROOT@/out/gen"\n' "$round" "$round" > "$1/gen.service"
mkdir -p "$1/default.target.wants" "$2/default.target.wants" "$3/default.target.wants"
ln -s ../gen.service "$1/default.target.wants/gen.service"
printf '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/touch @ROOT@/out/early\n' > "$2/early.service"
ln -s ../early.service "$2/default.target.wants/early.service"
printf '[Unit]\nDescription=early\n' > "$2/prio.target"
printf '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/touch @ROOT@/out/late\n' > "$3/late.service"
ln -s ../late.service "$3/default.target.wants/late.service"
printf '[Unit]\nDescription=late\n' > "$3/low.target"
`

// TestInitGenerators runs host-mode init over a root with generators: the one in
// ROOT/etc/systemd/system-generators fills the early, normal and late directories and the
// units it links into default.target.wants/ start at boot; a generator masked by a /dev/null
// symlink does not run; a failing one is logged with its status and stderr and the boot goes
// on; daemon-reload runs the generators again (the generated unit changes).
func TestInitGenerators(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	harness.WriteFile(t, filepath.Join(root, "round"), "1\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/system-generators/test-gen"), strings.ReplaceAll(initGenerator, "@ROOT@", root), 0o755)
	harness.WriteFile(t, filepath.Join(root, "usr/lib/systemd/system-generators/broken"), "#!/bin/sh\necho generator-oops >&2\nexit 7\n", 0o755)
	harness.WriteFile(t, filepath.Join(root, "usr/lib/systemd/system-generators/masked"), "#!/bin/sh\ntouch "+out+"/masked\n", 0o755)
	if err := os.Symlink("/dev/null", filepath.Join(root, "etc/systemd/system-generators/masked")); err != nil {
		t.Fatal(err)
	}
	initWriteUnit(t, root, "default.target", "[Unit]\nDescription=default\n")
	initWriteUnit(t, root, "prio.target", "[Unit]\nDescription=etc\n")
	harness.WriteFile(t, filepath.Join(root, "usr/lib/systemd/system/low.target"), "[Unit]\nDescription=usr\n", 0o644)
	// Left over from an earlier boot: the directories are emptied before the generators run.
	harness.WriteFile(t, filepath.Join(root, "run/systemd/generator.late/default.target.wants/stale.service"), "", 0o644)

	_, _, log := startHostInit(t, bin, root)
	e := &ctlEnv{t: t, root: root, ctl: harness.Binary(t, "cmd/steadctl"), log: log}
	initWaitPath(t, filepath.Join(root, "run/systemd/io.systemd.Manager"), log)
	for _, u := range []string{"gen.service", "early.service", "late.service", "default.target"} {
		e.waitState(u, "active")
	}
	if got := string(initWaitFile(t, filepath.Join(out, "gen"), log)); got != "1\n" {
		t.Errorf("gen.service ran %q, want round 1", got)
	}
	if got := string(initWaitFile(t, filepath.Join(out, "scope"), log)); got != "system\n" {
		t.Errorf("SYSTEMD_SCOPE=%q", got)
	}
	if d := e.prop("prio.target", "Description"); d != "early" {
		t.Errorf("prio.target from %q, want the early generator directory over /etc", d)
	}
	if d := e.prop("low.target", "Description"); d != "usr" {
		t.Errorf("low.target from %q, want /usr over the late generator directory", d)
	}
	if _, err := os.Stat(filepath.Join(out, "masked")); err == nil {
		t.Error("a generator masked by a /dev/null symlink ran")
	}
	if _, err := os.Lstat(filepath.Join(root, "run/systemd/generator.late/default.target.wants/stale.service")); err == nil {
		t.Error("stale generator output was not removed")
	}
	if l := log.String(); !strings.Contains(l, "generator failed") || !strings.Contains(l, "broken") ||
		!strings.Contains(l, "7") || !strings.Contains(l, "generator-oops") {
		t.Errorf("the failing generator is not logged with its status and stderr:\n%s", l)
	}

	harness.WriteFile(t, filepath.Join(root, "round"), "2\n", 0o644)
	e.must(0, "daemon-reload")
	if d := e.prop("gen.service", "Description"); d != "generated round 2" {
		t.Errorf("gen.service after daemon-reload: %q, want round 2", d)
	}
	e.must(0, "restart", "gen.service")
	e.waitState("gen.service", "active")
	if got, _ := os.ReadFile(filepath.Join(out, "gen")); string(got) != "1\n2\n" {
		t.Errorf("gen.service output after daemon-reload and restart: %q", got)
	}
}
