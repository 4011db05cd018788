package dhcpclient

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

func TestRetransmitWait(t *testing.T) {
	for i, want := range []time.Duration{4, 8, 16, 32, 64, 64, 64} {
		if got := retransmitWait(i+1, 0); got != want*time.Second {
			t.Errorf("attempt %d: %v, want %v", i+1, got, want*time.Second)
		}
	}
	if got := retransmitWait(1, time.Second); got != 3*time.Second {
		t.Errorf("fuzz +1s: %v", got)
	}
	for range 1000 {
		if f := fuzz(); f < -time.Second || f >= time.Second {
			t.Fatalf("fuzz %v out of [-1s, 1s)", f)
		}
	}
	now := time.Unix(1000, 0)
	for _, c := range []struct {
		until time.Time
		want  time.Duration
	}{
		{now.Add(10 * time.Minute), 5 * time.Minute},
		{now.Add(100 * time.Second), time.Minute},
		{now.Add(-time.Second), time.Minute},
		{time.Time{}, time.Minute},
	} {
		if got := reacquireWait(now, c.until); got != c.want {
			t.Errorf("reacquireWait(%v): %v, want %v", c.until.Sub(now), got, c.want)
		}
	}
}

// fakeConn is the link as nclient4 sees it: what the client writes goes to
// serve, whose answers the client reads.
type fakeConn struct {
	serve   func(*dhcpv4.DHCPv4) *dhcpv4.DHCPv4
	replies chan []byte
	closed  chan struct{}
	once    sync.Once

	mu   sync.Mutex
	sent []*dhcpv4.DHCPv4
}

func newFakeConn(serve func(*dhcpv4.DHCPv4) *dhcpv4.DHCPv4) *fakeConn {
	return &fakeConn{serve: serve, replies: make(chan []byte, 16), closed: make(chan struct{})}
}

func (f *fakeConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	f.sent = append(f.sent, m)
	f.mu.Unlock()
	if r := f.serve(m); r != nil {
		f.replies <- r.ToBytes()
	}
	return len(b), nil
}

func (f *fakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case r := <-f.replies:
		return copy(b, r), &net.UDPAddr{}, nil
	case <-f.closed:
		return 0, nil, io.EOF
	}
}

func (f *fakeConn) Close() error                     { f.once.Do(func() { close(f.closed) }); return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return &net.UDPAddr{} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func (f *fakeConn) messages() []*dhcpv4.DHCPv4 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*dhcpv4.DHCPv4(nil), f.sent...)
}

var testHW = net.HardwareAddr{2, 0, 0, 0, 0, 9}

// testServer answers the transmissions whose number (from 1) answer says,
// as a server at 10.2.0.2 leasing 10.1.0.7 for 120 s; nak turns ACKs into NAKs.
func testServer(answer func(n int, m *dhcpv4.DHCPv4) bool, nak bool) func(*dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	n := 0
	return func(m *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
		n++
		if !answer(n, m) {
			return nil
		}
		typ := dhcpv4.MessageTypeOffer
		if m.MessageType() == dhcpv4.MessageTypeRequest {
			typ = dhcpv4.MessageTypeAck
			if nak {
				typ = dhcpv4.MessageTypeNak
			}
		}
		r, _ := dhcpv4.NewReplyFromRequest(m, dhcpv4.WithMessageType(typ),
			dhcpv4.WithYourIP(net.IPv4(10, 1, 0, 7)), dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 2, 0, 2))),
			dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(120*time.Second)))
		return r
	}
}

// testClient is a Client whose waits are noted and which never waits long
// for a transmission the server will drop (and long for one it answers).
func testClient(t *testing.T, conn *fakeConn, answered func(n int) bool) (*Client, *nclient4.Client, *[]int) {
	cl, err := nclient4.NewWithConn(conn, testHW, nclient4.WithTimeout(noTimeout), nclient4.WithRetry(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	var attempts []int
	wait := func(a int) time.Duration {
		attempts = append(attempts, a)
		if answered(len(conn.messages()) + 1) {
			return time.Minute
		}
		return time.Millisecond
	}
	c := &Client{Ifname: "test0", Log: slog.New(slog.DiscardHandler), wait: wait, reacquireWait: wait}
	return c, cl, &attempts
}

func types(ms []*dhcpv4.DHCPv4) (out []string, xids map[dhcpv4.TransactionID]int) {
	xids = map[dhcpv4.TransactionID]int{}
	for _, m := range ms {
		out = append(out, m.MessageType().String())
		xids[m.TransactionID]++
	}
	return out, xids
}

// TestExchangeRetransmits: unanswered DISCOVERs and REQUESTs go out again
// with their attempt numbers counting up, all under one transaction id; a
// second exchange, and a renewal, draw new ones.
func TestExchangeRetransmits(t *testing.T) {
	answered := func(n int) bool { return n == 3 || n == 5 || n >= 6 }
	conn := newFakeConn(testServer(func(n int, _ *dhcpv4.DHCPv4) bool { return answered(n) }, false))
	c, cl, attempts := testClient(t, conn, answered)
	l, err := c.exchange(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if l.Address().String() != "10.1.0.7/24" {
		t.Errorf("lease %v", l.Address())
	}
	got, xids := types(conn.messages())
	want := []string{"DISCOVER", "DISCOVER", "DISCOVER", "REQUEST", "REQUEST"}
	if len(got) != len(want) || len(xids) != 1 {
		t.Fatalf("sent %v under %d transaction ids, want %v under one", got, len(xids), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sent %v, want %v", got, want)
		}
	}
	if a := *attempts; len(a) != 5 || a[0] != 1 || a[1] != 2 || a[2] != 3 || a[3] != 1 || a[4] != 2 {
		t.Errorf("attempts %v, want [1 2 3 1 2]", a)
	}
	first := conn.messages()[0].TransactionID

	// Next exchange (the 6th transmission on) and a renewal: answered at once, each new xid.
	if _, err := c.exchange(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	nl, err := c.reacquire(context.Background(), cl, l, false)
	if err != nil {
		t.Fatal(err)
	}
	ms := conn.messages()
	if len(ms) != 8 {
		t.Fatalf("%d messages", len(ms))
	}
	second, renewal := ms[5].TransactionID, ms[7].TransactionID
	if second != ms[6].TransactionID || second == first || renewal == second || renewal == first || renewal == l.ACK.TransactionID {
		t.Errorf("transaction ids: first %v, second %v/%v, renewal %v", first, second, ms[6].TransactionID, renewal)
	}
	if !ms[7].ClientIPAddr.Equal(net.IPv4(10, 1, 0, 7)) || nl.Address() != l.Address() {
		t.Errorf("renewal ciaddr %v, lease %v", ms[7].ClientIPAddr, nl.Address())
	}
}

// TestExchangeRequestGivesUp: a REQUEST goes out requestTries times, then
// the exchange fails (the caller starts over with a fresh DISCOVER).
func TestExchangeRequestGivesUp(t *testing.T) {
	answered := func(n int) bool { return n == 1 }
	conn := newFakeConn(testServer(func(n int, _ *dhcpv4.DHCPv4) bool { return answered(n) }, false))
	c, cl, _ := testClient(t, conn, answered)
	_, err := c.exchange(context.Background(), cl)
	if !errors.Is(err, errNoAnswer) {
		t.Fatalf("err %v, want errNoAnswer", err)
	}
	if got, _ := types(conn.messages()); len(got) != 1+requestTries {
		t.Errorf("sent %v, want a DISCOVER and %d REQUESTs", got, requestTries)
	}
}

// TestExchangeNak: a NAK ends the exchange with ErrNak.
func TestExchangeNak(t *testing.T) {
	all := func(int) bool { return true }
	conn := newFakeConn(testServer(func(int, *dhcpv4.DHCPv4) bool { return true }, true))
	c, cl, _ := testClient(t, conn, all)
	var nak *nclient4.ErrNak
	if _, err := c.exchange(context.Background(), cl); !errors.As(err, &nak) {
		t.Fatalf("err %v, want a NAK", err)
	}
}

// TestExchangeCancelled: a DISCOVER nobody answers is retransmitted until
// the context ends, which ends the exchange.
func TestExchangeCancelled(t *testing.T) {
	never := func(int) bool { return false }
	conn := newFakeConn(testServer(func(int, *dhcpv4.DHCPv4) bool { return false }, false))
	c, cl, attempts := testClient(t, conn, never)
	ctx, cancel := context.WithCancel(context.Background())
	inner := c.wait
	c.wait = func(a int) time.Duration {
		if a == 5 {
			cancel()
		}
		return inner(a)
	}
	if _, err := c.exchange(ctx, cl); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if got, xids := types(conn.messages()); len(got) != 5 || len(xids) != 1 || len(*attempts) != 5 {
		t.Errorf("sent %v under %d ids, attempts %v", got, len(xids), *attempts)
	}
}
