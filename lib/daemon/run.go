package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stead-os/stead/lib/varlinkd"
)

// The messages around READY=1 and STOPPING=1 carry a status line, as upstream's daemons send.
const (
	readyMessage    = "READY=1\nSTATUS=Processing requests..."
	stoppingMessage = "STOPPING=1\nSTATUS=Shutting down..."
)

// Run runs svc and serves sockets until ctx is done, a stop signal arrives, svc.Run returns or
// a server ends (a socket-activated one idle, a connected one hung up), and returns the first
// failure. The servers start first, one after the other (the first takes a socket passed by
// the service manager), at the same time as svc.Run; READY=1 goes out once both are up. A
// socket that cannot be served stops svc and fails Run without READY=1. Run can be called
// once.
func (d *Daemon) Run(ctx context.Context, svc Service, sockets ...Socket) error {
	if !d.begin(svc) {
		return errors.New("daemon: Run called twice")
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	defer d.handleSignals(ctx, stop)()
	wdCtx, stopWatchdog := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatchdog() // pings go on while the daemon shuts down
	go d.watchdog(wdCtx)

	serving := make(chan struct{})
	served := make(chan error, 1)
	go func() { served <- d.serve(ctx, sockets, func() { close(serving) }) }()
	started := make(chan struct{})
	ran := make(chan error, 1)
	var once sync.Once
	go func() { ran <- svc.Run(ctx, func() { once.Do(func() { close(started) }) }) }()

	var first error
	done := ctx.Done()
	for served != nil || ran != nil {
		select {
		case <-serving:
			serving = nil
		case <-started:
			started = nil
		case err := <-served:
			served, first = nil, firstOf(first, err)
			stop(nil)
		case err := <-ran:
			ran, first = nil, firstOf(first, err)
			stop(nil)
		case <-done:
			done = nil
			d.beginStop()
		}
		if serving == nil && started == nil && ctx.Err() == nil {
			d.sendReady()
		}
	}
	d.beginStop()
	return first
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// begin records svc as the daemon's service; false if Run was called before.
func (d *Daemon) begin(svc Service) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.svc != nil {
		return false
	}
	d.svc = svc
	return true
}

// serve runs a server per socket until ctx is done or one of them ends; serving is called
// once all accept connections. Each server starts once the one before it serves.
func (d *Daemon) serve(ctx context.Context, sockets []Socket, serving func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, len(sockets))
	running := 0
	var first error
	stopped := false // asked to stop while the servers were starting: not a failure
	for _, s := range sockets {
		up, err := d.startServer(ctx, s, done)
		if err != nil {
			first = err
			break
		}
		running++
		select {
		case <-up:
			continue
		case err := <-done:
			running--
			if err == nil && ctx.Err() != nil {
				stopped = true
			} else {
				first = fmt.Errorf("varlink socket %s: %w", s.Path, firstOf(err, errors.New("ended before serving")))
			}
		}
		break
	}
	if first == nil && !stopped {
		serving()
		select {
		case first = <-done:
			running--
		case <-ctx.Done():
		}
	}
	cancel()
	for ; running > 0; running-- {
		first = firstOf(first, <-done)
	}
	return first
}

// startServer starts serving s; up is closed once it accepts connections, and its end is
// sent to done.
func (d *Daemon) startServer(ctx context.Context, s Socket, done chan<- error) (up chan struct{}, err error) {
	srv, err := NewServer(d.spec.Name, d.spec.Version, d.Reload, s.Interfaces...)
	if err != nil {
		return nil, err
	}
	up = make(chan struct{})
	o := varlinkd.Options{Root: d.spec.Root, Socket: s.Path, Mode: s.Mode, IdleExit: s.IdleExit,
		Ready: func() { close(up) }, NoNotify: true, Listener: s.Listener}
	go func() { done <- srv.Run(ctx, o) }()
	return up, nil
}

// sendReady sends READY=1 the first time it is called.
func (d *Daemon) sendReady() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.readySent || d.stopped {
		return
	}
	d.readySent = true
	d.send(readyMessage)
	close(d.ready)
}

// beginStop marks the stop; STOPPING=1 goes out if READY=1 did, as upstream's daemons do.
func (d *Daemon) beginStop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.stopped = true
	close(d.stopping)
	if d.readySent {
		d.send(stoppingMessage)
	}
}

// send sends one notification; failures are logged, never fatal.
func (d *Daemon) send(msg string) {
	if _, err := d.notify.Send(msg); err != nil {
		d.log.Warn("sd_notify", "err", err)
	}
}
