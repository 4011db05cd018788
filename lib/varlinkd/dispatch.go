package varlinkd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
)

// request is the envelope of a method call.
type request struct {
	Method     string          `json:"method"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	More       bool            `json:"more,omitempty"`
	Oneway     bool            `json:"oneway,omitempty"`
	Upgrade    bool            `json:"upgrade,omitempty"`
}

// errProtocol ends a connection whose peer broke the protocol.
var errProtocol = errors.New("varlink protocol violation")

// ServeConn serves requests on one connected socket until the peer closes it, it breaks the
// protocol (malformed JSON, oversized message, stray fds) or ctx is done; then it closes c.
// It applies the input limits but not the connection limits, which are Serve's.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	s.serveWire(ctx, s.newWireConn(c))
}

func (s *Server) serveWire(ctx context.Context, w *wireConn) {
	defer w.Close()
	stop := context.AfterFunc(ctx, func() { w.nc.Close() })
	defer stop()
	for {
		msg, fds, err := w.next()
		switch {
		case err == nil:
		case errors.Is(err, errOverBudget):
			uid, _ := w.peerClass()
			s.refused.warn(s.log, "Varlink input over the server's budget, closing a connection", "uid", uid)
			return
		default:
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("varlink connection closed", "err", err)
			}
			return
		}
		if err := s.handle(ctx, w, msg, fds); err != nil {
			s.log.Debug("varlink connection closed", "err", err)
			return
		}
	}
}

// handle validates one request and passes it to the library's dispatcher. It returns an
// error only when the connection must be closed.
func (s *Server) handle(ctx context.Context, w *wireConn, msg []byte, fds []*os.File) error {
	var req request
	if err := json.Unmarshal(msg, &req); err != nil {
		closeFiles(fds)
		return err
	}
	flags := 0
	for _, set := range []bool{req.More, req.Oneway, req.Upgrade} {
		if set {
			flags++
		}
	}
	if flags > 1 {
		closeFiles(fds)
		return errProtocol
	}
	reply := func(name string, params any) error {
		closeFiles(fds)
		if req.Oneway {
			return nil
		}
		return writeError(ctx, w, name, params)
	}

	dot := strings.LastIndexByte(req.Method, '.')
	if dot <= 0 {
		return reply(ErrInvalidParameter, map[string]string{"parameter": "method"})
	}
	ifname, mname := req.Method[:dot], req.Method[dot+1:]
	if ifname != orgVarlinkService {
		ifc, ok := s.ifaces[ifname]
		if !ok {
			return reply(ErrInterfaceNotFound, map[string]string{"interface": ifname})
		}
		m, ok := ifc.methods[mname]
		if !ok {
			return reply(ErrMethodNotFound, map[string]string{"method": req.Method})
		}
		if err := ifc.checkParameters(m.in, req.Parameters); err != nil {
			return reply(ErrInvalidParameter, map[string]string{"parameter": err.(invalidParameter).name})
		}
		if m.requiresMore && !req.More {
			return reply(ErrExpectedMore, nil)
		}
	}
	// The generated dispatchers refuse a call without a parameters object: supply an empty one.
	if len(req.Parameters) == 0 || string(req.Parameters) == "null" {
		req.Parameters = json.RawMessage("{}")
		b, err := json.Marshal(&req)
		if err != nil {
			return err
		}
		msg = b
	}
	return s.svc.HandleMessageWithFDs(ctx, w, msg, fds)
}
