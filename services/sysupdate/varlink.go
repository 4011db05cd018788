package sysupdate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdsysupdate"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/varlinkd"
)

// DefaultIdleExit is how long a process activated on a listening socket waits for clients.
const DefaultIdleExit = 60 * time.Second

// Serve serves io.systemd.SysUpdate on the socket the service manager passed (upstream's
// Accept=yes unit passes a connected one) or on its own socket under the root.
func Serve(ctx context.Context, o Options, idle time.Duration) int {
	d := daemon.New(daemon.Spec{Name: "sysupdate", Version: o.Version, Root: o.Root, Log: o.Log})
	o.Log = d.Log()
	o.Stdout, o.Stderr = io.Discard, io.Discard
	return d.ExitCode(d.Run(ctx, daemon.Passive{}, daemon.Socket{
		Path: iosystemdsysupdate.SocketPath, Mode: 0o666, IdleExit: idle,
		Interfaces: []varlinkd.Dispatcher{iosystemdsysupdate.VarlinkNew(&service{o: o})},
	}))
}

// service implements io.systemd.SysUpdate. Each call reads the definitions afresh, as
// upstream's one-process-per-connection service does.
type service struct{ o Options }

var errNoSuchTarget = errors.New("no such target")

// context builds the Context of target: the host's sysupdate.d or a component's.
func (s *service) context(t iosystemdsysupdate.TargetIdentifier) (*Context, error) {
	o := s.o
	switch t.Class {
	case "host":
		if t.Name != nil && *t.Name != "" {
			return nil, errNoSuchTarget
		}
	case "component":
		if t.Name == nil || *t.Name == "" {
			return nil, errNoSuchTarget
		}
		o.Component = *t.Name
	default:
		return nil, errNoSuchTarget
	}
	c, err := NewContext(o)
	if err != nil {
		return nil, err
	}
	if len(c.Transfers) == 0 && len(c.Disabled) == 0 {
		return nil, errNoSuchTarget
	}
	return c, nil
}

func (s *service) reply(ctx context.Context, c iosystemdsysupdate.VarlinkCall, err error) error {
	if errors.Is(err, errNoSuchTarget) {
		return c.ReplyNoSuchTarget(ctx)
	}
	s.o.Log.Error("request failed", slog.Any("err", err))
	return varlinkd.ReplyErrno(ctx, c.Call, err)
}

// ListTargets lists the host (when sysupdate.d has transfers) and every component.
func (s *service) ListTargets(ctx context.Context, c iosystemdsysupdate.VarlinkCall) error {
	host, names := listComponents(s.o.Root)
	targets := []iosystemdsysupdate.Target{}
	if host {
		targets = append(targets, iosystemdsysupdate.Target{Id: iosystemdsysupdate.TargetIdentifier{Class: "host"}})
	}
	for _, n := range names {
		n := n
		targets = append(targets, iosystemdsysupdate.Target{Id: iosystemdsysupdate.TargetIdentifier{Class: "component", Name: &n}})
	}
	return c.ReplyListTargets(ctx, targets)
}

// CheckNew answers the candidate's version, or NoUpdateNeeded.
func (s *service) CheckNew(ctx context.Context, c iosystemdsysupdate.VarlinkCall, target iosystemdsysupdate.TargetIdentifier, _ *bool) error {
	sc, err := s.context(target)
	if err != nil {
		return s.reply(ctx, c, err)
	}
	if err := sc.Discover(ctx, !s.o.Offline); err != nil {
		return s.reply(ctx, c, err)
	}
	cand := sc.Candidate()
	if cand == nil {
		return c.ReplyNoUpdateNeeded(ctx)
	}
	return c.ReplyCheckNew(ctx, cand.Version)
}

// ListFeatures lists the target's features with the transfers each controls.
func (s *service) ListFeatures(ctx context.Context, c iosystemdsysupdate.VarlinkCall, target iosystemdsysupdate.TargetIdentifier) error {
	sc, err := s.context(target)
	if err != nil {
		return s.reply(ctx, c, err)
	}
	out := []iosystemdsysupdate.Feature{}
	for _, f := range sc.Features {
		f := f
		ft := iosystemdsysupdate.Feature{Id: f.ID, Enabled: f.Enabled, Suggested: &f.Suggested, Transfers: &f.Transfers}
		if f.Description != "" {
			ft.Description = &f.Description
		}
		if len(f.Documentation) > 0 {
			ft.Documentation = &f.Documentation
		}
		if f.AppStream != "" {
			ft.AppStream = &f.AppStream
		}
		out = append(out, ft)
	}
	return c.ReplyListFeatures(ctx, out)
}
