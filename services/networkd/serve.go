package networkd

import (
	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/varlinkd"
)

// socket is io.systemd.Network and io.systemd.Network.Link on SocketPath, for lib/daemon to
// serve (networkd.go's Main).
func (s *service) socket() daemon.Socket {
	d, ld := api.VarlinkNew(s)
	return daemon.Socket{Path: SocketPath, Interfaces: []varlinkd.Dispatcher{d, ld}}
}
