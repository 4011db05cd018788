//go:build integration

package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
)

// initVMSecurityUnit is one hardened service that reports, from inside, what its settings
// do: the same unit under our init and under upstream systemd 262, both as PID 1.
const initVMSecurityUnit = `[Unit]
Description=A hardened service that reports its sandbox
[Service]
Type=oneshot
RemainAfterExit=yes
DynamicUser=yes
RuntimeDirectory=sec
LimitNOFILE=1234:5678
ProtectSystem=strict
PrivateTmp=yes
ProtectHome=yes
NoNewPrivileges=yes
SystemCallFilter=~@swap
RestrictAddressFamilies=AF_UNIX
ExecStart=/bin/sh -c 'exec >$RUNTIME_DIRECTORY/report 2>&1; \
  grep "Max open files" /proc/self/limits | tr -s " "; \
  touch /usr/stead-x 2>/dev/null && echo usr writable || echo usr read-only; \
  echo tmp entries $(ls -A /tmp | wc -l); \
  u=$(id -u); if [ $u -ge 61184 ] && [ $u -le 65519 ]; then echo uid in range; else echo uid $u; fi; \
  grep NoNewPrivs /proc/self/status; \
  /bin/busybox swapoff /dev/null >/dev/null 2>&1; echo swapoff exit $?; \
  /bin/bash -c "exec 3<>/dev/tcp/127.0.0.1/9" 2>&1 | sed "s/.*: //"; \
  echo end'
`

// TestInitVMSecurity boots the VM harness with our init as PID 1, then (with the upstream
// root) with upstream systemd 262, each running initVMSecurityUnit, and compares the reports
// line by line: limits, read-only /usr, an empty private /tmp, a uid from the dynamic range,
// no_new_privs, a child killed by SIGSYS (exit 159: busybox swapoff under ~@swap), AF_INET
// refused. (A filter on a call the C library makes at start-up would compare C libraries, not
// managers: glibc 2.36's qsort calls sysinfo(2), 2.41's does not.)
func TestInitVMSecurity(t *testing.T) {
	vm.Prereqs(t)
	tools, err := vm.DynamicFiles("/", "/bin/bash")
	if err != nil {
		t.Fatalf("host tools for the guest: %v", err)
	}
	report := func(t *testing.T, init string, extra map[string]vm.File, cmdline string) []string {
		files := map[string]vm.File{
			"/etc/systemd/system/stead-vm-agent.service": {Data: []byte(vm.AgentUnit)},
			"/etc/systemd/system/sec.service":            {Data: []byte(initVMSecurityUnit)},
			"/etc/systemd/system/default.target": {Data: []byte("[Unit]\nWants=stead-vm-agent.service sec.service\n" +
				"After=stead-vm-agent.service\n")},
			"/etc/passwd": {Data: []byte("root:x:0:0:root:/root:/bin/sh\n")},
			"/etc/group":  {Data: []byte("root:x:0:\n")},
		}
		for p, f := range tools {
			files[p] = f
		}
		for p, f := range extra {
			files[p] = f
		}
		m := vm.Boot(t, vm.Options{Init: init, Agent: vm.AgentByInit, Files: files, Memory: 1024,
			KernelCmdline: cmdline, BootTimeout: 3 * time.Minute})
		defer m.Stop()
		var text string
		harness.Eventually(t, "the report of sec.service", 3*time.Minute, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b, err := m.GetFile(ctx, "/run/sec/report")
			text = string(b)
			return err == nil && strings.HasSuffix(text, "end\n")
		}, func() string { return "report so far: " + text + "\nconsole:\n" + m.Console() })
		return strings.Split(strings.TrimSuffix(text, "end\n"), "\n")
	}
	want := []string{"Max open files 1234 5678 files ", "usr read-only", "tmp entries 0", "uid in range",
		"NoNewPrivs:\t1", "swapoff exit 159",
		// bash reports the failed socket(2) and then the failed redirection.
		"Address family not supported by protocol", "Address family not supported by protocol", ""}
	var ours []string
	t.Run("Stead", func(t *testing.T) {
		ours = report(t, harness.Binary(t, "cmd/init"), nil, "")
		if strings.Join(ours, "\n") != strings.Join(want, "\n") {
			t.Errorf("our init: report\n%q\nwant\n%q", ours, want)
		}
	})
	var up *harness.Upstream
	t.Run("UpstreamRoot", func(t *testing.T) { up = harness.NeedUpstream(t) })
	t.Run("Upstream", func(t *testing.T) {
		if up == nil {
			harness.Require(t, "no upstream systemd root (see the UpstreamRoot subtest)", "debootstrap")
			return
		}
		// libmount and libseccomp are dlopen()ed: without libseccomp upstream skips every
		// seccomp-based setting.
		files, err := vm.DynamicFiles(up.Dir, "/usr/lib/systemd/systemd", "/usr/lib/systemd/systemd-executor",
			"/usr/lib/x86_64-linux-gnu/libmount.so.1", "/usr/lib/x86_64-linux-gnu/libseccomp.so.2")
		if err != nil {
			t.Fatalf("upstream systemd: %v", err)
		}
		files["/etc/os-release"] = vm.File{Data: []byte("ID=stead-vm\nNAME=\"stead VM test\"\n")}
		theirs := report(t, files["/usr/lib/systemd/systemd"].Source, files, "systemd.show_status=0")
		if strings.Join(theirs, "\n") != strings.Join(ours, "\n") {
			t.Errorf("upstream systemd 262 reports\n%q\nours\n%q", theirs, ours)
		}
	})
}
