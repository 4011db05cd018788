package relay

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Server and client ports (RFC 2131).
const (
	serverPort = 67
	clientPort = 68
)

// listen opens a UDP socket on 0.0.0.0:67 bound to one interface, able to
// receive and send broadcasts; several such sockets coexist, one per link.
func listen(ctx context.Context, ifname string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			for _, o := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT, unix.SO_BROADCAST} {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o, 1); serr != nil {
					return
				}
			}
			serr = unix.BindToDevice(int(fd), ifname)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:67")
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// Stats counts what the relay did; read with Snapshot.
type Stats struct {
	mu                          sync.Mutex
	ToServer, ToClient, Dropped uint64
}

// Snapshot returns the counters.
func (s *Stats) Snapshot() (toServer, toClient, dropped uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ToServer, s.ToClient, s.Dropped
}

func (s *Stats) add(p *uint64) {
	s.mu.Lock()
	*p++
	s.mu.Unlock()
}

// Run relays until ctx is done. It fails at once when a socket cannot be
// opened; otherwise it calls ready (when not nil) once every socket is
// open, and returns nil when ctx ends.
func (c *Config) Run(ctx context.Context, log *slog.Logger, st *Stats, ready func()) error {
	if st == nil {
		st = &Stats{}
	}
	if !c.Server.Is4() {
		return errors.New("relay: no IPv4 server address")
	}
	up, err := listen(ctx, c.Upstream)
	if err != nil {
		return err
	}
	conns := []*net.UDPConn{up}
	downs := make(map[*Downstream]*net.UDPConn, len(c.Downstreams))
	for _, d := range c.Downstreams {
		dc, err := listen(ctx, d.Ifname)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return err
		}
		downs[d] = dc
		conns = append(conns, dc)
	}
	go func() {
		<-ctx.Done()
		for _, c := range conns {
			c.Close()
		}
	}()
	if ready != nil {
		ready()
	}
	server := net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.Server, serverPort))
	var wg sync.WaitGroup
	for d, dc := range downs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				n, from, err := dc.ReadFromUDPAddrPort(buf)
				if err != nil {
					if ctx.Err() == nil {
						log.Warn("relay: read failed", "link", d.Ifname, "err", err)
					}
					return
				}
				out, err := c.ToServer(d, buf[:n])
				if err != nil {
					st.add(&st.Dropped)
					log.Debug("relay: dropping request", "link", d.Ifname, "from", from, "reason", err)
					continue
				}
				if _, err := up.WriteToUDP(out, server); err != nil {
					log.Warn("relay: forwarding to server failed", "err", err)
					continue
				}
				st.add(&st.ToServer)
			}
		}()
	}
	debug := log.Enabled(ctx, slog.LevelDebug)
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := up.ReadFromUDPAddrPort(buf)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("relay: read failed", "link", c.Upstream, "err", err)
				}
				return
			}
			out, dl, err := c.ToClient(from.Addr(), buf[:n])
			if err != nil {
				st.add(&st.Dropped)
				log.Debug("relay: dropping reply", "from", from, "reason", err)
				continue
			}
			if err := deliver(downs[dl.Link], dl, out); err != nil {
				log.Warn("relay: delivery failed", "to", dl.String(), "err", err)
				continue
			}
			st.add(&st.ToClient)
			if debug {
				// dl.String() formats; only pay for it when it is logged.
				log.Debug("relay: reply delivered", "to", dl.String())
			}
		}
	}()
	wg.Wait()
	return nil
}

// deliver sends a reply on its downstream link: a broadcast through the
// link's UDP socket, or a unicast as a link-layer frame straight to the
// client's hardware address, since a client without its address yet
// cannot answer ARP.
func deliver(dc *net.UDPConn, dl Delivery, msg []byte) error {
	if dl.Broadcast {
		_, err := dc.WriteToUDPAddrPort(msg, bcastClient)
		return err
	}
	ifi, err := net.InterfaceByName(dl.Link.Ifname)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ll := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index, Halen: 6}
	copy(ll.Addr[:], dl.HWAddr)
	return unix.Sendto(fd, IPv4UDP(dl.Link.Gateway, dl.Dst, serverPort, clientPort, msg), 0, ll)
}

var bcastClient = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), clientPort)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// IPv4UDP wraps payload in IPv4 and UDP headers, checksums included.
func IPv4UDP(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 28+len(payload))
	ip := b[:20]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(b)))
	ip[8] = 64 // TTL
	ip[9] = unix.IPPROTO_UDP
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(0, ip)))
	udp := b[20:]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	// pseudo header: addresses, protocol, UDP length
	ps := sum(0, ip[12:20])
	ps += uint32(unix.IPPROTO_UDP) + uint32(8+len(payload))
	cs := ^fold(sum(ps, udp))
	if cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], cs)
	return b
}

func sum(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}
