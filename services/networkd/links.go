package networkd

import (
	"context"
	"log/slog"
	"net"
	"sync"

	"github.com/stead-os/stead/services/networkd/dhcpclient"
	"github.com/stead-os/stead/services/networkd/netconf"
)

// clientSettings are the settings a running DHCPv4 client was started with;
// a reload restarts a client only when they change.
type clientSettings struct {
	Network     string
	RouteTable  uint32
	UseMTU      bool
	UseHostname bool
	SendRelease bool
	KeepOnStop  bool
}

func settingsOf(n *netconf.Network) clientSettings {
	return clientSettings{Network: n.Path, RouteTable: n.DHCPv4.RouteTable, UseMTU: n.DHCPv4.UseMTU,
		UseHostname: n.DHCPv4.UseHostname, SendRelease: n.DHCPv4.SendRelease, KeepOnStop: n.KeepDynamicOnStop()}
}

// runningClient is one DHCPv4 client goroutine.
type runningClient struct {
	settings clientSettings
	ifindex  int // of the link it runs on: a link re-created under the same name gets a new one
	cancel   context.CancelCauseFunc
	done     chan struct{}
	renew    chan struct{}
}

// linkManager owns what networkd configures on links: the static objects it
// added (to take them away when the files drop them) and the DHCPv4 clients.
type linkManager struct {
	root string
	log  *slog.Logger

	mu      sync.Mutex
	static  map[string]Static // by link name
	ifindex map[string]int    // of the links in static
	clients map[string]*runningClient
	// loaded: the records an earlier process left in RecordDir were read.
	loaded bool
}

func newLinkManager(root string, log *slog.Logger) *linkManager {
	return &linkManager{root: root, log: log, static: map[string]Static{}, ifindex: map[string]int{},
		clients: map[string]*runningClient{}}
}

// load takes over the records an earlier networkd process left (RecordDir),
// so what it added is removed when the files no longer ask for it. Records of
// links that are gone lose their rules (which outlive links) and are deleted.
// m.mu is held.
func (m *linkManager) load(links []net.Interface) {
	m.loaded = true
	recs := loadRecords(m.root, func(p string, err error) {
		m.log.Warn("ignoring record of configured objects", "path", p, "err", err)
	})
	byIndex := map[int]string{}
	for _, ifi := range links {
		byIndex[ifi.Index] = ifi.Name
	}
	for idx, r := range recs {
		s := fromRecord(r, idx)
		name, ok := byIndex[idx]
		if !ok {
			RemoveStale(r.Link, Static{Rules: s.Rules}, newStatic())
			if err := saveRecord(m.root, idx, r.Link, newStatic()); err != nil {
				m.log.Warn("removing record", "err", err)
			}
			continue
		}
		m.static[name], m.ifindex[name] = s, idx
	}
}

// apply brings the links in line with cfg: static settings applied and what
// the files no longer name removed; DHCPv4 clients started, kept (same
// settings), handed over (new settings) or stopped with a release.
func (m *linkManager) apply(ctx context.Context, cfg *Config, links []net.Interface) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.loaded {
		m.load(links)
	}
	present := map[string]bool{}
	for _, ifi := range links {
		present[ifi.Name] = true
		nw := netconf.Find(cfg.Networks, LinkInfo(m.root, ifi))
		cur := newStatic()
		if nw != nil {
			var err error
			if cur, err = ApplyStatic(ifi.Name, nw); err != nil {
				m.log.Warn("static configuration incomplete", "link", ifi.Name, "network", nw.Name, "err", err)
			}
		}
		if old, ok := m.static[ifi.Name]; ok {
			if err := RemoveStale(ifi.Name, old, cur); err != nil {
				m.log.Warn("removing dropped configuration", "link", ifi.Name, "err", err)
			}
			if idx := m.ifindex[ifi.Name]; idx != ifi.Index {
				saveRecord(m.root, idx, ifi.Name, newStatic()) // the link was re-created
			}
		}
		m.static[ifi.Name], m.ifindex[ifi.Name] = cur, ifi.Index
		if err := saveRecord(m.root, ifi.Index, ifi.Name, cur); err != nil {
			m.log.Warn("recording configured objects", "link", ifi.Name, "err", err)
		}

		rc := m.clients[ifi.Name]
		want := nw != nil && nw.DHCPv4Enabled()
		if rc != nil && (rc.ifindex != ifi.Index || rc.ended()) {
			// The link was re-created under the same name (the client would go on configuring
			// the old one), or the client ended on its own (Run failed): start anew.
			m.log.Info("DHCPv4 client's link was re-created or the client ended", "link", ifi.Name)
			m.stop(ifi.Name, dhcpclient.ErrUnconfigured)
			rc = nil
		}
		switch {
		case rc != nil && !want:
			m.log.Info("stopping DHCPv4 client", "link", ifi.Name)
			m.stop(ifi.Name, dhcpclient.ErrUnconfigured)
		case rc != nil && rc.settings != settingsOf(nw):
			m.log.Info("restarting DHCPv4 client with new settings", "link", ifi.Name, "network", nw.Name)
			m.stop(ifi.Name, dhcpclient.ErrHandOver)
			m.start(ctx, ifi.Name, ifi.Index, nw)
		case rc == nil && want:
			m.start(ctx, ifi.Name, ifi.Index, nw)
		}
	}
	for name := range m.static {
		if !present[name] {
			RemoveStale(name, m.static[name], newStatic()) // rules outlive the link
			saveRecord(m.root, m.ifindex[name], name, newStatic())
			delete(m.static, name)
			delete(m.ifindex, name)
		}
	}
	for name := range m.clients {
		if !present[name] {
			m.stop(name, dhcpclient.ErrUnconfigured)
		}
	}
}

// start runs a client on link ifname; m.mu is held.
func (m *linkManager) start(ctx context.Context, ifname string, ifindex int, nw *netconf.Network) {
	s := settingsOf(nw)
	cctx, cancel := context.WithCancelCause(ctx)
	rc := &runningClient{settings: s, ifindex: ifindex, cancel: cancel, done: make(chan struct{}), renew: make(chan struct{}, 1)}
	m.clients[ifname] = rc
	dc := &dhcpclient.Client{Root: m.root, Ifname: ifname, RouteTable: s.RouteTable, UseMTU: s.UseMTU,
		SendRelease: s.SendRelease, KeepOnStop: s.KeepOnStop, Renew: rc.renew, Log: m.log}
	if s.UseHostname {
		dc.OnLease = func(l *dhcpclient.Lease) { setHostname(m.root, l, m.log) }
	}
	m.log.Info("starting DHCPv4 client", "link", ifname, "network", nw.Name)
	go func() {
		defer close(rc.done)
		if err := dc.Run(cctx); err != nil {
			m.log.Error("DHCPv4 client failed", "link", ifname, "err", err)
		}
	}()
}

// ended reports a client whose Run returned.
func (rc *runningClient) ended() bool {
	select {
	case <-rc.done:
		return true
	default:
		return false
	}
}

// stop ends the client of ifname for the given reason and waits; m.mu is held.
func (m *linkManager) stop(ifname string, cause error) {
	rc := m.clients[ifname]
	if rc == nil {
		return
	}
	rc.cancel(cause)
	<-rc.done
	delete(m.clients, ifname)
}

// stopAll ends every client (networkd is stopping).
func (m *linkManager) stopAll(cause error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rc := range m.clients {
		rc.cancel(cause)
	}
	for name, rc := range m.clients {
		<-rc.done
		delete(m.clients, name)
	}
}

// renew asks the client of ifname to renew now; false when none runs there.
func (m *linkManager) renew(ifname string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	rc := m.clients[ifname]
	if rc == nil {
		return false
	}
	select {
	case rc.renew <- struct{}{}:
	default: // one is pending already
	}
	return true
}
