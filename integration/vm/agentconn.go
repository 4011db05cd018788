package vm

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"

	"github.com/stead-os/stead/integration/vm/internal/agentproto"
)

// agentConn is the host end of the agent protocol: one connection, requests multiplexed by ID.
type agentConn struct {
	c   net.Conn
	wmu sync.Mutex

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan *agentproto.Response

	closeOnce sync.Once
	closed    chan struct{}
	err       error // set before closed is closed
}

func newAgentConn(c net.Conn) *agentConn {
	a := &agentConn{c: c, pending: map[uint64]chan *agentproto.Response{}, closed: make(chan struct{})}
	go a.readLoop()
	return a
}

func (a *agentConn) readLoop() {
	br := bufio.NewReaderSize(a.c, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			a.fail(fmt.Errorf("agent connection closed: %w", err))
			return
		}
		var r agentproto.Response
		if json.Unmarshal(line, &r) != nil {
			continue // junk from before a (re)start: skip to the next line
		}
		a.mu.Lock()
		ch := a.pending[r.ID]
		delete(a.pending, r.ID)
		a.mu.Unlock()
		if ch != nil {
			ch <- &r
		}
	}
}

func (a *agentConn) fail(err error) {
	a.closeOnce.Do(func() {
		a.err = err
		close(a.closed)
		a.c.Close()
	})
}

func (a *agentConn) close() { a.fail(fmt.Errorf("agent connection closed")) }

// call sends req (assigning its ID) and waits for the response.
func (a *agentConn) call(ctx context.Context, req *agentproto.Request) (*agentproto.Response, error) {
	ch := make(chan *agentproto.Response, 1)
	a.mu.Lock()
	a.nextID++
	req.ID = a.nextID
	a.pending[req.ID] = ch
	a.mu.Unlock()
	forget := func() {
		a.mu.Lock()
		delete(a.pending, req.ID)
		a.mu.Unlock()
	}
	b, err := json.Marshal(req)
	if err != nil {
		forget()
		return nil, err
	}
	b = append(b, '\n')
	a.wmu.Lock()
	dl, _ := ctx.Deadline() // zero: none
	a.c.SetWriteDeadline(dl)
	_, err = a.c.Write(b)
	a.wmu.Unlock()
	if err != nil {
		forget()
		a.fail(err)
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	case <-a.closed:
		forget()
		return nil, a.err
	}
}
