package vm

import (
	"slices"
	"strings"
	"testing"
)

func TestSMBIOS(t *testing.T) {
	got := SMBIOS(1, "manufacturer=Amazon EC2", "product=m5.large", "serial=a,b")
	if want := "type=1,manufacturer=Amazon EC2,product=m5.large,serial=a,,b"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func argAfter(args []string, flag string) []string {
	var v []string
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			v = append(v, args[i+1])
		}
	}
	return v
}

func TestQemuArgs(t *testing.T) {
	p := qemuPaths{kernel: "/k", initrd: "/i", agentSock: "/s/agent.sock", monitorSock: "/s/mon.sock"}
	args, err := qemuArgs(&Options{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(args, "-nodefaults") || !slices.Equal(argAfter(args, "-nic"), []string{"none"}) {
		t.Errorf("no network must mean -nodefaults and -nic none: %q", args)
	}
	if len(argAfter(args, "-netdev")) != 0 {
		t.Errorf("unexpected -netdev: %q", args)
	}
	if got := argAfter(args, "-append"); len(got) != 1 || got[0] != DefaultCmdline {
		t.Errorf("-append %q", got)
	}
	if got := argAfter(args, "-accel"); !slices.Equal(got, []string{"tcg"}) {
		t.Errorf("-accel %q", got)
	}

	o := &Options{
		Net:           &Net{GuestFwd: map[int]string{80: "127.0.0.1:8080", 8443: "[::1]:9443"}},
		Init:          "/bin/true",
		KernelCmdline: "loglevel=7",
		SMBIOS:        []string{"type=0,vendor=X"},
		Disk:          "/d/a,b.img",
	}
	args, err = qemuArgs(o, p)
	if err != nil {
		t.Fatal(err)
	}
	nd := argAfter(args, "-netdev")
	want := "user,id=n0,restrict=on,net=169.254.169.0/24,host=169.254.169.2,dhcpstart=169.254.169.15," +
		"guestfwd=tcp:169.254.169.254:80-cmd:socat - TCP:127.0.0.1:8080," +
		"guestfwd=tcp:169.254.169.254:8443-cmd:socat - TCP6:[::1]:9443"
	if len(nd) != 1 || nd[0] != want {
		t.Errorf("-netdev %q\nwant %q", nd, want)
	}
	if len(argAfter(args, "-nic")) != 0 {
		t.Errorf("-nic with a network: %q", args)
	}
	if got := argAfter(args, "-append")[0]; got != DefaultCmdline+" rdinit="+WrapperInit+" loglevel=7" {
		t.Errorf("-append %q", got)
	}
	if got := argAfter(args, "-drive"); len(got) != 1 || !strings.HasPrefix(got[0], "file=/d/a,,b.img,") || !strings.HasSuffix(got[0], "format=raw") {
		t.Errorf("-drive %q", got)
	}
	o.Agent = AgentByInit
	args, _ = qemuArgs(o, p)
	if strings.Contains(argAfter(args, "-append")[0], "rdinit") {
		t.Errorf("AgentByInit must boot /init directly: %q", argAfter(args, "-append"))
	}
}

func TestGuestFwdRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"169.254.169.254:80", "10.0.0.1:80", "example.com:80", "0.0.0.0:80", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999"} {
		if _, err := netdevArg(&Net{GuestFwd: map[int]string{80: addr}}); err == nil {
			t.Errorf("%q accepted", addr)
		}
	}
	if _, err := netdevArg(&Net{GuestFwd: map[int]string{0: "127.0.0.1:80"}}); err == nil {
		t.Error("guest port 0 accepted")
	}
}
