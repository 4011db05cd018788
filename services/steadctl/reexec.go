package steadctl

import (
	"context"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdmanager"
	"github.com/stead-os/stead/lib/varlinkd"
)

// reexec is daemon-reexec: io.systemd.Manager.Reexecute, then, as systemctl does, it waits
// until the new incarnation answers (Describe), so that the next command finds it.
func (x *ctl) reexec(ctx context.Context, args []string) int {
	if len(args) > 0 {
		x.errorf("daemon-reexec takes no arguments")
		return ExitFailure
	}
	if err := x.c.with(ctx, func(vc *varlinkd.Client) error { return iosystemdmanager.NewClient(vc).Reexecute(ctx) }); err != nil {
		x.errorf("Failed to re-execute the manager: %v", err)
		return ExitFailure
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		err := x.c.with(ctx, func(vc *varlinkd.Client) error {
			_, err := iosystemdmanager.NewClient(vc).Describe(ctx)
			return err
		})
		if err == nil {
			return ExitOK
		}
		select {
		case <-ctx.Done():
			x.errorf("The manager did not come back after re-executing: %v", err)
			return ExitFailure
		case <-time.After(50 * time.Millisecond):
		}
	}
}
