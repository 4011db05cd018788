package imdsd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// request is one Get, its defaults filled in.
type request struct {
	key     string // full path below the data URL
	iface   int    // 0 = any
	refresh time.Duration
	cache   bool
	mark    uint32
	wait    bool
}

// transient marks failures worth retrying.
type transient struct{ err error }

func (t *transient) Error() string { return t.err.Error() }
func (t *transient) Unwrap() error { return t.err }

func isTransient(err error) bool {
	var t *transient
	return errors.As(err, &t)
}

// classifyTransport sorts a transport error: connection failures, resets and empty replies
// are retried, anything else is a communication failure.
func classifyTransport(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return asTimeout(ctx, ctx.Err())
	}
	for _, e := range []error{unix.ECONNREFUSED, unix.ECONNRESET, unix.ECONNABORTED, unix.EHOSTUNREACH,
		unix.ENETUNREACH, unix.ETIMEDOUT, unix.EPIPE, unix.EADDRNOTAVAIL, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return &transient{err}
		}
	}
	return commFailure(err)
}

// fetch gets key through link, with token handling and retries.
func (s *Service) fetch(ctx context.Context, ep *Endpoint, link Link, r *request) ([]byte, error) {
	c := s.client(link.Name, r.mark)
	url := ep.DataURL + r.key + ep.DataURLSuffix
	delay := s.timing.RetryInitial
	for retries := 0; ; retries++ {
		data, err := s.fetchOnce(ctx, c, ep, link, url, r)
		if err == nil || !isTransient(err) {
			return data, err
		}
		if retries >= s.timing.Retries {
			return nil, errnoError(unix.EUCLEAN, "giving up after %d retries (last: %v)", retries, err)
		}
		s.log.Debug("retrying", "interface", link.Name, "key", r.key, "in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, asTimeout(ctx, ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, s.timing.RetryMax)
	}
}

func (s *Service) fetchOnce(ctx context.Context, c *httpClient, ep *Endpoint, link Link, url string, r *request) ([]byte, error) {
	req := &httpRequest{method: "GET", url: url, header: s.commonHeaders()}
	if ep.TokenURL != "" {
		tok, err := s.token(ctx, c, ep, link, r)
		if err != nil {
			return nil, err
		}
		req.header = append(req.header, [2]string{ep.TokenHeaderName, tok})
	}
	for _, h := range ep.ExtraHeaders {
		name, value, err := splitHeader(h)
		if err != nil {
			continue
		}
		if strings.EqualFold(name, "Host") {
			req.host = value
			continue
		}
		req.header = append(req.header, [2]string{name, value})
	}
	s.log.Debug("requesting", "interface", link.Name, "url", url)
	resp, err := c.do(ctx, req, MaxBody)
	if err != nil {
		return nil, transportError(ctx, err, MaxBody)
	}
	switch code := resp.status; {
	case code >= 200 && code < 300:
		return resp.body, nil
	case code == 401 && ep.TokenURL != "":
		s.forgetToken(link.Name)
		return nil, &transient{fmt.Errorf("HTTP %d: token rejected", code)}
	case code == 403:
		return nil, ErrNotAvailable
	case code == 404:
		return nil, ErrKeyNotFound
	case code == 429 || code == 503:
		return nil, &transient{fmt.Errorf("HTTP %d", code)}
	default:
		return nil, errnoError(unix.EIO, "HTTP status %d", code)
	}
}

// commonHeaders are sent with every request.
func (s *Service) commonHeaders() [][2]string {
	v := s.opts.Version
	if v == "" {
		v = "0"
	}
	return [][2]string{{"User-Agent", "stead-imdsd/" + v}, {"Accept", "*/*"}}
}

// transportError maps a failed request: an oversized body is E2BIG, the rest is sorted by
// classifyTransport.
func transportError(ctx context.Context, err error, limit int64) error {
	if errors.Is(err, errBodyTooLarge) {
		return errnoError(unix.E2BIG, "response exceeds the limit of %d bytes", limit)
	}
	return classifyTransport(ctx, err)
}

// token returns a session token for link, from memory, disk or a PUT to the token URL. One
// request per interface at a time fetches it; the others wait and reuse it.
func (s *Service) token(ctx context.Context, c *httpClient, ep *Endpoint, link Link, r *request) (string, error) {
	st := s.tokenState(link.Name)
	st.mu.Lock()
	defer st.mu.Unlock()
	now := s.now()
	if r.cache {
		if !st.loaded {
			st.loaded = true
			if t, ok := s.cache.loadToken(link.Name); ok {
				st.url, st.token = t.TokenURL, t.Token
				st.validUntil = time.Duration(t.ValidUntilUSec) * time.Microsecond
			}
		}
		if st.token != "" && st.url == ep.TokenURL && now < st.validUntil {
			return st.token, nil
		}
	}
	req := &httpRequest{method: "PUT", url: ep.TokenURL, header: s.commonHeaders()}
	if ep.RefreshHeaderName != "" {
		secs := int64(math.Ceil(r.refresh.Seconds()))
		req.header = append(req.header, [2]string{ep.RefreshHeaderName, strconv.FormatInt(secs, 10)})
	}
	s.log.Debug("requesting a token", "interface", link.Name, "url", ep.TokenURL)
	resp, err := c.do(ctx, req, MaxToken)
	if err != nil {
		return "", transportError(ctx, err, MaxToken)
	}
	switch code := resp.status; {
	case code >= 200 && code < 300:
	case code == 403:
		return "", ErrNotAvailable
	case code == 429 || code == 503:
		return "", &transient{fmt.Errorf("token: HTTP %d", code)}
	default:
		return "", errnoError(unix.EIO, "token: HTTP status %d", code)
	}
	b := resp.body
	tok := string(b)
	if tok == "" || !utf8.ValidString(tok) || strings.ContainsFunc(tok, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", errnoError(unix.EBADMSG, "token: not a printable string")
	}
	st.url, st.token, st.validUntil = ep.TokenURL, tok, s.now()+r.refresh/2
	s.cache.saveToken(link.Name, savedToken{TokenURL: st.url, Token: tok, ValidUntilUSec: int64(st.validUntil / time.Microsecond)})
	return tok, nil
}

func (s *Service) forgetToken(iface string) {
	st := s.tokenState(iface)
	st.mu.Lock()
	st.token, st.loaded = "", true
	st.mu.Unlock()
	s.cache.dropToken(iface)
}
