package fakecloud

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tokenSpec is a cloud's session-token handshake: PUT path with a TTL header returns a
// token, which data requests carry in one of tokenHeaders.
type tokenSpec struct {
	path         string
	ttlHeaders   []string // the first is the documented one; others are accepted too
	tokenHeaders []string // likewise
	maxTTL       int
	hexToken     bool // 64 hex digits (Akamai) instead of base64 (EC2, Alibaba)
	echoTTL      bool // answer with the TTL header (EC2, Alibaba)
	// rejectForwarded answers 403 to token requests carrying X-Forwarded-For, EC2's
	// protection against open proxies forwarding the PUT.
	rejectForwarded bool
}

const maxTokens = 4096

// serveToken answers a token request.
func (c *call) serveToken(t *tokenSpec) {
	if c.r.Method != http.MethodPut {
		c.w.Header().Set("Allow", http.MethodPut)
		c.text(http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if t.rejectForwarded && c.r.Header.Get("X-Forwarded-For") != "" {
		c.text(http.StatusForbidden, "Forbidden")
		return
	}
	var v string
	for _, h := range t.ttlHeaders {
		if v = c.r.Header.Get(h); v != "" {
			break
		}
	}
	if v == "" {
		c.text(http.StatusBadRequest, "Bad Request: missing "+t.ttlHeaders[0])
		return
	}
	ttl, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || ttl < 1 || ttl > t.maxTTL {
		c.text(http.StatusBadRequest, "Bad Request: invalid "+t.ttlHeaders[0])
		return
	}
	tok := c.s.issueToken(time.Duration(ttl)*time.Second, t.hexToken)
	if t.echoTTL {
		c.w.Header().Set(t.ttlHeaders[0], strconv.Itoa(ttl))
	}
	c.text(http.StatusOK, tok)
}

// authorized checks a data request's token, answering 401 when it fails.
func (c *call) authorized(t *tokenSpec) bool {
	var tok string
	for _, h := range t.tokenHeaders {
		if tok = c.r.Header.Get(h); tok != "" {
			break
		}
	}
	if tok == "" && c.s.tokensOptional {
		return true
	}
	if tok == "" || !c.s.validToken(tok) {
		c.text(http.StatusUnauthorized, "Unauthorized")
		return false
	}
	return true
}

func (s *Server) issueToken(ttl time.Duration, hexToken bool) string {
	var raw [40]byte
	rand.Read(raw[:])
	var tok string
	if hexToken {
		tok = hex.EncodeToString(raw[:32])
	} else {
		tok = base64.StdEncoding.EncodeToString(raw[:])
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) >= maxTokens {
		for k, exp := range s.tokens {
			if !now.Before(exp) {
				delete(s.tokens, k)
			}
		}
		for k := range s.tokens {
			if len(s.tokens) < maxTokens {
				break
			}
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = now.Add(ttl)
	return tok
}

func (s *Server) validToken(tok string) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	if ok && !now.Before(exp) {
		delete(s.tokens, tok)
		return false
	}
	return ok
}
