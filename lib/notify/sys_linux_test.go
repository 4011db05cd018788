package notify

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// The receiving kernel fills in credentials whenever the receiver asks for
// them, so only the outgoing control data shows that we attach them.
func TestControlMessage(t *testing.T) {
	scms, err := unix.ParseSocketControlMessage(controlMessage(true, []int{7, 9}))
	if err != nil {
		t.Fatal(err)
	}
	if len(scms) != 2 {
		t.Fatalf("%d control messages, want 2", len(scms))
	}
	cred, err := unix.ParseUnixCredentials(&scms[0])
	if err != nil {
		t.Fatal(err)
	}
	if int(cred.Pid) != os.Getpid() || int(cred.Uid) != os.Getuid() || int(cred.Gid) != os.Getgid() {
		t.Errorf("credentials %+v", *cred)
	}
	fds, err := unix.ParseUnixRights(&scms[1])
	if err != nil || len(fds) != 2 || fds[0] != 7 || fds[1] != 9 {
		t.Errorf("rights %v, %v", fds, err)
	}
	if oob := controlMessage(false, nil); len(oob) != 0 {
		t.Errorf("no creds, no fds: %d bytes", len(oob))
	}
}
