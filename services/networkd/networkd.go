// Package networkd is stead's network daemon. It reads the .network files
// and networkd.conf (package netconf), applies static settings and takes
// away those a reload drops (links.go, apply_linux.go), runs the DHCPv4
// relay agent (package relay) on the links that ask for it and the DHCPv4
// client (package dhcpclient) on links with DHCP=yes or ipv4, and serves
// io.systemd.Network (varlink.go) with link and online states (online.go).
// It also holds the logic of its clients, networkctl (networkctl.go) and
// networkd-wait-online (waitonline.go). See docs/networkd.md.
package networkd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/stead-os/stead/lib/atomicfile"
	"github.com/stead-os/stead/lib/notify"
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
	nets, err := netconf.Load(root, warn)
	if err != nil {
		return nil, err
	}
	return &Config{Global: g, Networks: nets}, nil
}

// LinkInfo describes the kernel link ifi for [Match]: the type comes from
// sysfs under root when available, else from the link's flags.
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
			if v, ok := strings.CutPrefix(line, "DEVTYPE="); ok {
				l.Kind = v
				if l.Type == "ether" && v == "wlan" {
					l.Type = "wlan"
				}
			}
		}
	}
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

// Run is the daemon: it loads the configuration, starts the relay, tells
// the service manager it is ready and reloads on SIGHUP until ctx ends or
// SIGTERM/SIGINT arrives. SIGUSR2 also stops it, as a restart: upstream's
// unit sets RestartKillSignal=SIGUSR2, and dynamic configuration (DHCPv4
// addresses, lease files) is then kept for the next process whatever
// KeepConfiguration= says.
func Run(ctx context.Context, o Options, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var restarting atomic.Bool
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	// The cause reaches the DHCPv4 clients, whose contexts derive from ctx.
	ctx, stopForRestart := context.WithCancelCause(ctx)
	defer stopForRestart(nil)
	go func() {
		select {
		case <-usr2:
			log.Info("restart requested (SIGUSR2): keeping dynamic configuration")
			restarting.Store(true)
			stopForRestart(dhcpclient.ErrRestart)
		case <-ctx.Done():
		}
	}()
	// SIGHUP reaches the Varlink server, whose reload hook, like io.systemd.Network.Reload,
	// hands a request to the loop below. This never-read channel only keeps an early SIGHUP,
	// before the server runs, from killing the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	type reloadReq struct {
		reconfigure bool
		done        chan error
	}
	reloads := make(chan reloadReq)
	removeStaleTemps(o.Root, log)
	lm := newLinkManager(o.Root, log)
	svc := &service{root: o.Root, links: lm}
	svc.reload = func(rctx context.Context, reconfigure bool) error {
		r := reloadReq{reconfigure, make(chan error, 1)}
		select {
		case reloads <- r:
		case <-rctx.Done():
			return rctx.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
		return <-r.done
	}

	n, err := notify.FromEnv()
	if err != nil {
		log.Warn("ignoring NOTIFY_SOCKET", "err", err)
	}
	var (
		stopRelay = func() {}
		relayDone = make(chan struct{})
	)
	close(relayDone)
	// start applies the configuration: links (static settings, DHCPv4
	// clients) are brought in line with it, the relay is restarted.
	start := func() error {
		cfg, err := Load(o.Root, log)
		if err != nil {
			return fmt.Errorf("loading configuration: %w", err)
		}
		svc.setConfig(cfg)
		links, err := net.Interfaces()
		if err != nil {
			return err
		}
		lm.apply(ctx, cfg, links)
		stopRelay()
		<-relayDone
		stopRelay = func() {}
		rc, on, err := cfg.RelayConfig(links, o.Root, log)
		if err != nil {
			log.Warn(err.Error())
			return nil
		}
		if !on {
			return nil
		}
		names := make([]string, len(rc.Downstreams))
		for i, d := range rc.Downstreams {
			names[i] = d.Ifname + "=" + d.Gateway.String()
		}
		rctx, cancel := context.WithCancel(ctx)
		stopRelay = cancel
		opened := make(chan struct{})
		done := make(chan struct{})
		relayDone = done
		go func() {
			defer close(done)
			err := rc.Run(rctx, log, nil, func() {
				log.Info("DHCP relay started", "server", rc.Server, "upstream", rc.Upstream, "downstream", strings.Join(names, ","))
				close(opened)
			})
			if err != nil {
				log.Error("DHCP relay failed", "err", err)
				close(opened)
			}
		}()
		<-opened
		return nil
	}
	shutdown := func() {
		stopRelay()
		<-relayDone
		cause := dhcpclient.ErrShutdown
		if restarting.Load() {
			cause = dhcpclient.ErrRestart
		}
		lm.stopAll(cause)
	}
	if err := start(); err != nil {
		shutdown()
		return err
	}
	vctx, vstop := context.WithCancel(ctx)
	vdone := make(chan struct{})
	vready := make(chan struct{})
	go func() {
		defer close(vdone)
		if err := serveVarlink(vctx, o, svc, func() { close(vready) }); err != nil {
			log.Error("io.systemd.Network not served", "err", err)
		}
	}()
	select {
	case <-vready:
	case <-vdone:
	}
	pdone := make(chan struct{})
	go func() { defer close(pdone); svc.publishStates(vctx, log) }()
	defer func() { vstop(); <-vdone; <-pdone }()
	n.Send("READY=1\nSTATUS=Processing requests...")
	for {
		select {
		case <-ctx.Done():
			shutdown()
			return nil
		case r := <-reloads:
			if !r.reconfigure {
				cfg, err := Load(o.Root, log)
				if err == nil {
					svc.setConfig(cfg)
				}
				r.done <- err
				continue
			}
			n.Send("RELOADING=1")
			err := start()
			if err != nil {
				log.Error("reload failed", "err", err)
			} else {
				log.Info("configuration reloaded")
			}
			n.Send("READY=1")
			r.done <- err
		}
	}
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
