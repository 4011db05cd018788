// Package networkd is stead's network daemon. It reads the .network files
// and networkd.conf (package netconf), applies static settings and takes
// away those a reload drops (links.go, apply_linux.go), runs the DHCPv4
// relay agent (package relay) on the links that ask for it and the DHCPv4
// client (package dhcpclient) on links with DHCP=yes or ipv4, and serves
// io.systemd.Network (varlink*.go, serve.go) with link and online states
// (online.go). It runs on lib/daemon's skeleton (networkd.go). See
// docs/networkd.md.
package networkd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/stead-os/stead/lib/atomicfile"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/services/networkd/dhcpclient"
	"github.com/stead-os/stead/services/networkd/netconf"
	"github.com/stead-os/stead/services/networkd/relay"
)

// Options are networkd's command-line settings.
type Options struct {
	Root    string
	Version string
}

// Config is one loaded configuration.
type Config struct {
	Global   *netconf.Global
	Networks []*netconf.Network
}

// Load reads the configuration under root, logging each problem.
func Load(root string, log *slog.Logger) (*Config, error) {
	warn := func(err error) { log.Warn(err.Error()) }
	g, err := netconf.LoadGlobal(root, warn)
	if err != nil {
		return nil, err
	}
	nets, err := netconf.LoadTables(root, g.RouteTables, warn)
	if err != nil {
		return nil, err
	}
	return &Config{Global: g, Networks: nets}, nil
}

// LinkInfo describes the kernel link ifi for [Match]: the type comes from
// sysfs under root when available, else from the link's flags; the kind from netlink.
func LinkInfo(root string, ifi net.Interface) netconf.LinkInfo {
	l := netconf.LinkInfo{Name: ifi.Name, MAC: ifi.HardwareAddr}
	dir := filepath.Join(root, "sys/class/net", ifi.Name)
	if b, err := os.ReadFile(filepath.Join(dir, "type")); err == nil {
		switch n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n {
		case 1:
			l.Type = "ether"
		case 772:
			l.Type = "loopback"
		case 65534:
			l.Type = "none"
		}
	} else if ifi.Flags&net.FlagLoopback != 0 {
		l.Type = "loopback"
	} else if len(ifi.HardwareAddr) == 6 {
		l.Type = "ether"
	}
	if b, err := os.ReadFile(filepath.Join(dir, "uevent")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "DEVTYPE="); ok && l.Type == "ether" && v == "wlan" {
				l.Type = "wlan"
			}
		}
	}
	l.Kind = linkKind(ifi.Index)
	return l
}

// RelayConfig works out the relay agent's setup from the configuration and
// the links present: ok is false when no relay is configured, err says
// why a configured one cannot run.
func (c *Config) RelayConfig(links []net.Interface, root string, log *slog.Logger) (*relay.Config, bool, error) {
	rc := &relay.Config{
		Server:           c.Global.Relay.ServerAddress,
		OverrideServerID: c.Global.Relay.OverrideServerIdentifier,
		RemoteID:         c.Global.Relay.RemoteID,
	}
	type up struct {
		name string
		prio int
	}
	var ups []up
	any := false
	for _, ifi := range links {
		n := netconf.Find(c.Networks, LinkInfo(root, ifi))
		if n == nil || n.DHCPRelay == netconf.RelayNone {
			continue
		}
		any = true
		if n.DHCPv4Enabled() {
			log.Warn("DHCP relay is off on a link running a DHCPv4 client", "link", ifi.Name, "network", n.Name)
			continue
		}
		agent, ok := n.RelayAgentAddress()
		if !ok {
			log.Warn("no usable agent address among the static addresses; relay off on this link", "link", ifi.Name, "network", n.Name)
			continue
		}
		switch n.DHCPRelay {
		case netconf.RelayUpstream:
			ups = append(ups, up{ifi.Name, n.Relay.InterfacePriority})
		case netconf.RelayDownstream:
			gw, _ := n.RelayGatewayAddress()
			if !gw.IsValid() {
				gw = agent
			}
			rc.Downstreams = append(rc.Downstreams, &relay.Downstream{
				Ifname: ifi.Name, Ifindex: ifi.Index, MAC: ifi.HardwareAddr, Gateway: gw,
				CircuitID: n.Relay.CircuitID, VSS: n.Relay.VirtualSubnetSelection,
			})
		}
	}
	if !any {
		return nil, false, nil
	}
	if !rc.Server.IsValid() {
		return nil, true, errors.New("DHCPRelay= is set but networkd.conf has no [DHCPRelay] ServerAddress=; relay off")
	}
	if len(ups) == 0 || len(rc.Downstreams) == 0 {
		return nil, true, errors.New("the DHCP relay needs one upstream and at least one downstream link")
	}
	sort.SliceStable(ups, func(i, j int) bool { return ups[i].prio > ups[j].prio })
	rc.Upstream = ups[0].name
	return rc, true, nil
}

// Main runs networkd through lib/daemon until it is stopped and returns the exit code.
// SIGUSR2 stops it as a restart: upstream's unit sets RestartKillSignal=SIGUSR2, and dynamic
// configuration (DHCPv4 addresses, lease files) is then kept for the next process whatever
// KeepConfiguration= says.
func Main(o Options) int {
	d := daemon.New(daemon.Spec{Name: "networkd", Version: o.Version, Root: o.Root,
		RestartSignal: syscall.SIGUSR2, RestartCause: dhcpclient.ErrRestart})
	nd := newNetworkd(o.Root, d.Log(), d.Reload)
	return d.Main(nd, nd.svc.socket())
}

// networkd is the daemon (a daemon.Service): it applies the configuration to the links (static
// settings, DHCPv4 clients) and runs the relay, from Run's start to its end and again on each
// reload.
type networkd struct {
	root  string
	log   *slog.Logger
	links *linkManager
	svc   *service // io.systemd.Network

	mu        sync.Mutex      // held while the configuration is applied or taken down
	ctx       context.Context // Run's: the DHCPv4 clients and the relay live in it
	stopRelay func()          // nil when no relay runs
}

// newNetworkd makes the daemon; reload is lib/daemon's (RELOADING=1, Reload, READY=1), which
// io.systemd.Network's Reload and Reconfigure go through as SIGHUP does.
func newNetworkd(root string, log *slog.Logger, reload func(context.Context) error) *networkd {
	lm := newLinkManager(root, log)
	nd := &networkd{root: root, log: log, links: lm, svc: &service{root: root, links: lm}}
	nd.svc.reload = func(ctx context.Context, reconfigure bool) error {
		if reconfigure {
			return reload(ctx)
		}
		return nd.reread()
	}
	return nd
}

// Run applies the configuration, reports ready, keeps the link state files current and, once
// ctx is done, takes down the relay and the DHCPv4 clients.
func (nd *networkd) Run(ctx context.Context, ready func()) error {
	removeStaleTemps(nd.root, nd.log)
	watch, werr := openLinkWatch()
	if werr != nil {
		nd.log.Warn("not watching for new links", "err", werr)
	} else if links, err := net.Interfaces(); err == nil {
		// The links present now are configured by the first apply: their announcements
		// (set up by it, a carrier change) need no second one. A link made after this look
		// is announced, and configured, even if the first apply saw it too.
		watch.seed(links)
	}
	nd.mu.Lock()
	nd.ctx = ctx
	err := nd.apply()
	nd.mu.Unlock()
	if err != nil {
		if watch != nil {
			watch.f.Close()
		}
		nd.shutdown()
		return err
	}
	pctx, stopPublishing := context.WithCancel(ctx)
	published := make(chan struct{})
	go func() { defer close(published); nd.svc.publishStates(pctx, nd.log) }()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if watch == nil {
			return
		}
		err := watch.run(ctx, nd.log, func() {
			nd.mu.Lock()
			defer nd.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			if err := nd.apply(); err != nil {
				nd.log.Warn("configuring a new link", "err", err)
			}
		})
		if err != nil {
			nd.log.Warn("watching for new links failed", "err", err)
		}
	}()
	ready()
	<-ctx.Done()
	<-watched
	nd.shutdown()
	stopPublishing()
	<-published
	return nil
}

// Reload applies the configuration again (lib/daemon runs one reload at a time, only after
// Run reported ready).
func (nd *networkd) Reload(context.Context) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if err := nd.apply(); err != nil {
		nd.log.Error("reload failed", "err", err)
		return err
	}
	nd.log.Info("configuration reloaded")
	return nil
}

// reread only re-reads the files, as io.systemd.Network.Reload with Reconfigure=false asks.
func (nd *networkd) reread() error {
	cfg, err := Load(nd.root, nd.log)
	if err == nil {
		nd.svc.setConfig(cfg)
	}
	return err
}

// apply brings the links in line with the configuration and restarts the relay; nd.mu is
// held.
func (nd *networkd) apply() error {
	cfg, err := Load(nd.root, nd.log)
	if err != nil {
		return fmt.Errorf("loading configuration: %w", err)
	}
	nd.svc.setConfig(cfg)
	links, err := net.Interfaces()
	if err != nil {
		return err
	}
	nd.links.apply(nd.ctx, cfg, links)
	nd.endRelay()
	rc, on, err := cfg.RelayConfig(links, nd.root, nd.log)
	switch {
	case err != nil:
		nd.log.Warn(err.Error())
	case on:
		nd.startRelay(rc)
	}
	return nil
}

// startRelay runs the relay agent and returns once it has opened its sockets (or failed);
// nd.mu is held.
func (nd *networkd) startRelay(rc *relay.Config) {
	names := make([]string, len(rc.Downstreams))
	for i, d := range rc.Downstreams {
		names[i] = d.Ifname + "=" + d.Gateway.String()
	}
	rctx, cancel := context.WithCancel(nd.ctx)
	done := make(chan struct{})
	nd.stopRelay = func() { cancel(); <-done }
	opened := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(done)
		err := rc.Run(rctx, nd.log, nil, func() {
			nd.log.Info("DHCP relay started", "server", rc.Server, "upstream", rc.Upstream, "downstream", strings.Join(names, ","))
			once.Do(func() { close(opened) })
		})
		if err != nil {
			nd.log.Error("DHCP relay failed", "err", err)
		}
		once.Do(func() { close(opened) })
	}()
	<-opened
}

// endRelay stops the relay, if one runs, and waits for it; nd.mu is held.
func (nd *networkd) endRelay() {
	if nd.stopRelay != nil {
		nd.stopRelay()
		nd.stopRelay = nil
	}
}

// shutdown stops the relay and the DHCPv4 clients: as a restart (they keep their leases) when
// Run's context ended with dhcpclient.ErrRestart, else as a stop.
func (nd *networkd) shutdown() {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	nd.endRelay()
	cause := dhcpclient.ErrShutdown
	if errors.Is(context.Cause(nd.ctx), dhcpclient.ErrRestart) {
		cause = dhcpclient.ErrRestart
	}
	nd.links.stopAll(cause)
}

// removeStaleTemps deletes the temporary files of state, lease and record writes that an
// earlier networkd, killed in the middle, left behind: nothing else would ever remove them.
func removeStaleTemps(root string, log *slog.Logger) {
	removed := 0
	for _, d := range []string{"run/systemd/netif", "run/systemd/netif/links", dhcpclient.LeaseDir, RecordDir} {
		n, err := atomicfile.RemoveStale(filepath.Join(root, d))
		removed += n
		if err != nil {
			log.Warn("cannot remove stale temporary files", "dir", d, "err", err)
		}
	}
	log.Debug("removed stale temporary files", "count", removed)
}
