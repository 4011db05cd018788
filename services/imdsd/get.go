package imdsd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// GetParams are Get's parameters as the Varlink call carries them (nil = absent).
type GetParams struct {
	Key          *string
	WellKnown    *string // IDL name, e.g. ipv4_public
	Interface    *int64
	RefreshUSec  *int64
	Cache        *bool
	FirewallMark *int64
	Wait         *bool
}

// validate checks the parameters on their own, before authorization and configuration
// matter; it returns the well-known key (Base when only a key is given).
func (p *GetParams) validate() (WellKnown, error) {
	if p.Key != nil && !ValidKey(*p.Key) {
		return 0, &InvalidParameterError{"key"}
	}
	w := Base
	if p.WellKnown != nil {
		var err error
		if w, err = ParseWellKnown(*p.WellKnown, false); err != nil {
			return 0, &InvalidParameterError{"wellKnown"}
		}
		if p.Key != nil && w != Base && w != UserdataBase {
			return 0, &InvalidParameterError{"key"}
		}
	} else if p.Key == nil {
		return 0, &InvalidParameterError{"key"}
	}
	if p.Interface != nil && (*p.Interface <= 0 || *p.Interface > math.MaxInt32) {
		return 0, &InvalidParameterError{"interface"}
	}
	if p.RefreshUSec != nil && *p.RefreshUSec < 0 {
		return 0, &InvalidParameterError{"refreshUSec"}
	}
	if p.FirewallMark != nil && (*p.FirewallMark < 0 || *p.FirewallMark > math.MaxUint32) {
		return 0, &InvalidParameterError{"firewallMark"}
	}
	return w, nil
}

// Get answers one io.systemd.InstanceMetadata.Get (authorization aside): the value and the
// index of the interface it came through.
func (s *Service) Get(ctx context.Context, p GetParams) ([]byte, int, error) {
	w, err := p.validate()
	if err != nil {
		return nil, 0, err
	}
	r, err := s.prepare(w, p)
	if err != nil {
		return nil, 0, err
	}
	return s.get(ctx, r)
}

// prepare checks the configuration for the request and fills in the defaults.
func (s *Service) prepare(w WellKnown, p GetParams) (*request, error) {
	ep, _ := s.snapshot()
	if err := ep.usable(); err != nil {
		return nil, err
	}
	base := ep.Keys[w]
	if base == "" && (w != Base || p.Key == nil) {
		return nil, ErrWellKnownKeyUnset
	}
	r := &request{key: base, refresh: s.opts.Refresh, cache: !s.opts.NoCache, mark: s.mark, wait: s.opts.Wait}
	if p.Key != nil {
		r.key += *p.Key
	}
	if p.Interface != nil {
		r.iface = int(*p.Interface)
	} else if s.opts.Interface != "" {
		l, err := s.byName(s.opts.Interface)
		if err != nil {
			return nil, commFailure(fmt.Errorf("interface %s: %w", s.opts.Interface, err))
		}
		r.iface = l.Index
	}
	if p.RefreshUSec != nil {
		us := *p.RefreshUSec
		if us > math.MaxInt64/int64(time.Microsecond) {
			us = math.MaxInt64 / int64(time.Microsecond)
		}
		r.refresh = max(time.Duration(us)*time.Microsecond, MinRefresh)
	}
	if p.Cache != nil {
		r.cache = *p.Cache
	}
	if p.FirewallMark != nil {
		r.mark = uint32(*p.FirewallMark)
	}
	if p.Wait != nil {
		r.wait = *p.Wait
	}
	return r, nil
}

// flight is one run of get that identical concurrent requests share.
type flight struct {
	done chan struct{}
	data []byte
	idx  int
	err  error
	// abandoned: the run failed because its own caller's context ended.
	abandoned bool
}

type flightKey struct {
	r  request
	id string // the endpoint's identity
}

// get runs a prepared request. Requests that may be answered from the cache share the run of
// an identical request already in progress: a burst of clients asking for a value not cached
// yet costs one fetch (one scan, one HTTP exchange, one cache file), not one per client.
func (s *Service) get(ctx context.Context, r *request) ([]byte, int, error) {
	if !r.cache {
		return s.getOnce(ctx, r)
	}
	if data, idx, hit, err := s.fromCache(r); hit {
		return data, idx, err
	}
	_, id := s.snapshot()
	k := flightKey{*r, id}
	for {
		s.flightMu.Lock()
		f, joined := s.flights[k]
		if !joined {
			if s.flights == nil {
				s.flights = map[flightKey]*flight{}
			}
			f = &flight{done: make(chan struct{})}
			s.flights[k] = f
		}
		s.flightMu.Unlock()
		if !joined {
			f.data, f.idx, f.err = s.getOnce(ctx, r)
			f.abandoned = f.err != nil && ctx.Err() != nil
			s.flightMu.Lock()
			delete(s.flights, k)
			s.flightMu.Unlock()
			close(f.done)
			return f.data, f.idx, f.err
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, 0, asTimeout(ctx, ctx.Err())
		}
		// A run that ended because its own caller went away answers nobody else: try again.
		if f.abandoned {
			continue
		}
		return f.data, f.idx, f.err
	}
}

// fromCache answers a request that may be cached from the memory or disk cache of the
// interface it would go through (the one asked for, else the pinned one), without a
// deadline or a flight: most requests end here. hit is false when get must run.
func (s *Service) fromCache(r *request) (data []byte, idx int, hit bool, err error) {
	var link Link
	switch {
	case r.iface > 0:
		if link, err = s.byIndex(r.iface); err != nil {
			return nil, 0, false, nil
		}
	default:
		name := s.cache.pinned()
		if name == "" {
			return nil, 0, false, nil
		}
		if link, err = s.byName(name); err != nil {
			return nil, 0, false, nil
		}
	}
	_, id := s.snapshot()
	e, ok := s.cache.lookup(link.Name, id, r.key, s.now(), r.refresh)
	if !ok {
		return nil, 0, false, nil
	}
	if e.NotFound {
		return nil, link.Index, true, ErrKeyNotFound
	}
	return e.Data, link.Index, true, nil
}

// getOnce runs a prepared request: on the interface asked for, else on the pinned one, else
// on every candidate interface at once, the first answer winning.
func (s *Service) getOnce(ctx context.Context, r *request) ([]byte, int, error) {
	ep, id := s.snapshot()
	if r.iface > 0 {
		ctx, cancel := context.WithTimeout(ctx, s.timing.Timeout)
		defer cancel()
		link, err := s.byIndex(r.iface)
		if err != nil {
			return nil, 0, commFailure(fmt.Errorf("interface %d: %w", r.iface, err))
		}
		data, err := s.fetchCached(ctx, &ep, id, link, r)
		return data, link.Index, asTimeout(ctx, err)
	}
	if name := s.cache.pinned(); name != "" {
		if link, err := s.byName(name); err == nil {
			ctx, cancel := context.WithTimeout(ctx, s.timing.Timeout)
			defer cancel()
			data, err := s.fetchCached(ctx, &ep, id, link, r)
			return data, link.Index, asTimeout(ctx, err)
		}
		s.log.Info("interface used before is gone, looking for another", "interface", name)
		s.cache.unpin()
	}
	ctx, cancel := context.WithTimeout(ctx, s.timing.TimeoutScan)
	defer cancel()
	return s.scan(ctx, &ep, id, r)
}

// fetchCached answers from the cache when allowed and fresh, else fetches and caches the
// answer (values and "not found").
func (s *Service) fetchCached(ctx context.Context, ep *Endpoint, id string, link Link, r *request) ([]byte, error) {
	if r.cache {
		if e, ok := s.cache.lookup(link.Name, id, r.key, s.now(), r.refresh); ok {
			if e.NotFound {
				return nil, ErrKeyNotFound
			}
			return e.Data, nil
		}
	}
	data, err := s.fetch(ctx, ep, link, r)
	stamp := int64(s.now() / time.Microsecond)
	switch {
	case err == nil:
		s.cache.store(link.Name, &entry{Key: r.key, Endpoint: id, TimestampUSec: stamp, Data: data})
	case errors.Is(err, ErrKeyNotFound):
		s.cache.store(link.Name, &entry{Key: r.key, Endpoint: id, TimestampUSec: stamp, NotFound: true})
	}
	return data, err
}

type attempt struct {
	link Link
	data []byte
	err  error
}

// scan asks through every candidate interface in parallel. Interfaces appearing later (new
// addresses) join. The first success wins and pins its interface; answers that would be the
// same everywhere (not found, forbidden) end the scan at once. When every interface tried has
// failed the last failure is returned, unless r.wait asks to keep waiting for more; with no
// candidate at all it waits for one until the deadline.
func (s *Service) scan(ctx context.Context, ep *Endpoint, id string, r *request) ([]byte, int, error) {
	events, err := s.watch(ctx)
	if err != nil {
		s.log.Warn("cannot watch network addresses, polling instead", "err", err)
		tick := make(chan struct{}, 1)
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					select {
					case tick <- struct{}{}:
					default:
					}
				}
			}
		}()
		events = tick
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan attempt)
	running := map[int]bool{}
	failed := map[int]bool{}
	start := func(l Link) {
		running[l.Index] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := s.fetchCached(actx, ep, id, l, r)
			select {
			case results <- attempt{l, data, err}:
			case <-actx.Done():
			}
		}()
	}
	rescan := func() {
		links, err := s.links()
		if err != nil {
			s.log.Warn("cannot list network interfaces", "err", err)
			return
		}
		for _, l := range links {
			if !running[l.Index] && (!failed[l.Index] || r.wait) {
				start(l)
			}
		}
	}
	rescan()
	var last error
	for {
		if len(running) == 0 && len(failed) > 0 && !r.wait {
			return nil, 0, last
		}
		select {
		case a := <-results:
			delete(running, a.link.Index)
			if a.err == nil || errors.Is(a.err, ErrKeyNotFound) {
				s.cache.pin(a.link.Name)
			}
			if a.err == nil || passThrough(a.err) {
				return a.data, a.link.Index, a.err
			}
			s.log.Debug("no answer through interface", "interface", a.link.Name, "err", a.err)
			failed[a.link.Index] = true
			last = a.err
		case <-events:
			rescan()
		case <-ctx.Done():
			if last != nil {
				return nil, 0, asTimeout(ctx, last)
			}
			if len(running) == 0 {
				return nil, 0, fmt.Errorf("%w: no network interface with an address", ErrTimeout)
			}
			return nil, 0, ErrTimeout
		}
	}
}
