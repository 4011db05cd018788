// Command testinit is a minimal PID 1 for the VM harness's own tests. It prints the greeting
// from /etc/testinit/greeting to the console, starts the agent itself when
// /etc/testinit/start-agent exists (as an init under test does with vm.AgentByInit), reaps
// orphans, and powers the machine off on SIGTERM.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

const agentPath = "/usr/lib/stead-vm/agent" // vm.AgentPath

func main() {
	con, err := os.OpenFile("/dev/console", os.O_WRONLY, 0)
	if err != nil {
		con = os.Stderr
	}
	g, err := os.ReadFile("/etc/testinit/greeting")
	if err != nil {
		g = []byte(err.Error())
	}
	fmt.Fprintf(con, "testinit: %s (pid %d)\n", strings.TrimSpace(string(g)), os.Getpid())

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGCHLD)
	if _, err := os.Stat("/etc/testinit/start-agent"); err == nil {
		cmd := exec.Command(agentPath)
		cmd.Stdout, cmd.Stderr = con, con
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(con, "testinit: %v\n", err)
		}
		// Reaped by the loop below, not by cmd.Wait.
	}
	for s := range sigs {
		if s == syscall.SIGTERM {
			fmt.Fprintln(con, "testinit: powering off")
			unix.Sync()
			unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		}
		for {
			var ws unix.WaitStatus
			if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
