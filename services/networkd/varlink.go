package networkd

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/stead-os/stead/services/networkd/netconf"
)

// SocketPath is where networkd serves io.systemd.Network (under --root).
const SocketPath = "/run/systemd/netif/io.systemd.Network"

// service answers io.systemd.Network and io.systemd.Network.Link from the daemon's current
// configuration, the kernel's view of the links (rtnetlink) and the saved DHCPv4 leases.
type service struct {
	root  string
	links *linkManager
	// reload asks the daemon's main loop to reload; reconfigure false only re-reads files.
	reload    func(ctx context.Context, reconfigure bool) error
	reloading atomic.Bool

	mu  sync.Mutex
	cfg *Config
}

func (s *service) setConfig(c *Config) {
	s.mu.Lock()
	s.cfg = c
	s.mu.Unlock()
}

func (s *service) networks() []*netconf.Network {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		return nil
	}
	return s.cfg.Networks
}
