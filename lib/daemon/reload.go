package daemon

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stead-os/stead/lib/notify"
)

// Reload reloads the service the way the service manager wants to hear about it:
// RELOADING=1 with MONOTONIC_USEC, Service.Reload, then READY=1. SIGHUP and
// io.systemd.service.Reload come here; a daemon's own reload methods (io.systemd.Network's
// Reload, io.systemd.Manager's) call it too. It waits until the daemon is ready, runs one
// reload at a time, and fails once the daemon has begun to stop.
func (d *Daemon) Reload(ctx context.Context) error {
	select {
	case <-d.ready:
	case <-d.stopping:
		return errStopping
	case <-ctx.Done():
		return ctx.Err()
	}
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if !d.reloading() {
		return errStopping
	}
	d.log.Debug("reloading")
	err := d.svc.Reload(ctx)
	d.reloaded()
	return err
}

// reloading sends RELOADING=1 unless the stop began.
func (d *Daemon) reloading() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return false
	}
	if _, err := d.notify.Reloading(); err != nil {
		d.log.Warn("sd_notify", "err", err)
	}
	return true
}

// reloaded sends READY=1 again unless the stop began meanwhile.
func (d *Daemon) reloaded() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stopped {
		d.send(readyMessage)
	}
}

// handleSignals turns signals into a stop (SIGTERM, SIGINT, Spec.RestartSignal) or a reload
// (SIGHUP) until the returned function is called.
func (d *Daemon) handleSignals(ctx context.Context, stop context.CancelCauseFunc) (release func()) {
	sigs := []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP}
	if d.spec.RestartSignal != nil {
		sigs = append(sigs, d.spec.RestartSignal)
	}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, sigs...)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-quit:
				return
			case sig := <-ch:
				d.onSignal(ctx, sig, stop)
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(quit)
	}
}

func (d *Daemon) onSignal(ctx context.Context, sig os.Signal, stop context.CancelCauseFunc) {
	switch {
	case sig == syscall.SIGHUP:
		go func() {
			if err := d.Reload(ctx); err != nil && err != errStopping && ctx.Err() == nil {
				d.log.Warn("reload failed", "err", err)
			}
		}()
	case sig == d.spec.RestartSignal:
		cause := d.spec.RestartCause
		if cause == nil {
			cause = ErrRestart
		}
		d.log.Info("restart requested", "signal", sig.String())
		stop(cause)
	default:
		d.log.Debug("stop requested", "signal", sig.String())
		stop(nil)
	}
}

// watchdog sends WATCHDOG=1 at half the interval the service manager asks for
// ($WATCHDOG_USEC, for our pid) until ctx is done.
func (d *Daemon) watchdog(ctx context.Context) {
	interval, err := notify.WatchdogEnabled()
	if err != nil {
		d.log.Warn("ignoring the watchdog", "err", err)
		return
	}
	if interval <= 0 || !d.notify.Enabled() {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		if _, err := d.notify.Watchdog(); err != nil {
			d.log.Warn("sd_notify", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StopContext is for stead's tools, which are not daemons: a context cancelled by SIGINT or
// SIGTERM, the signals that stop a daemon too, so that every program's signal handling lives
// in this package (and PID 1's).
func StopContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
}

// RunTool is the main of a stead tool written as run(ctx, args, stdout, stderr) exit code:
// it runs it with the process's arguments and streams under StopContext and exits with its
// code.
func RunTool(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := StopContext(context.Background())
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
