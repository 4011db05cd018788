package imds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
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
	// net/http's words for a connection the server closed without answering.
	if strings.Contains(err.Error(), "server closed idle connection") {
		return &transient{err}
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

func (s *Service) fetchOnce(ctx context.Context, c *http.Client, ep *Endpoint, link Link, url string, r *request) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, commFailure(err)
	}
	s.setCommonHeaders(req)
	if ep.TokenURL != "" {
		tok, err := s.token(ctx, c, ep, link, r)
		if err != nil {
			return nil, err
		}
		req.Header[ep.TokenHeaderName] = []string{tok}
	}
	for _, h := range ep.ExtraHeaders {
		name, value, err := splitHeader(h)
		if err != nil {
			continue
		}
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header[name] = append(req.Header[name], value)
	}
	s.log.Debug("requesting", "interface", link.Name, "url", url)
	resp, err := c.Do(req)
	if err != nil {
		return nil, classifyTransport(ctx, err)
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return readBody(ctx, resp, MaxBody)
	case code == http.StatusUnauthorized && ep.TokenURL != "":
		s.forgetToken(link.Name)
		discard(resp)
		return nil, &transient{fmt.Errorf("HTTP %d: token rejected", code)}
	case code == http.StatusForbidden:
		discard(resp)
		return nil, ErrNotAvailable
	case code == http.StatusNotFound:
		discard(resp)
		return nil, ErrKeyNotFound
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		discard(resp)
		return nil, &transient{fmt.Errorf("HTTP %d", code)}
	default:
		discard(resp)
		return nil, errnoError(unix.EIO, "HTTP status %d", code)
	}
}

func (s *Service) setCommonHeaders(req *http.Request) {
	v := s.opts.Version
	if v == "" {
		v = "0"
	}
	req.Header["User-Agent"] = []string{"stead-imdsd/" + v}
	req.Header["Accept"] = []string{"*/*"}
}

// readBody reads at most limit bytes; a longer body is an error (E2BIG).
func readBody(ctx context.Context, resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, errnoError(unix.E2BIG, "response of %d bytes exceeds the limit of %d", resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, classifyTransport(ctx, err)
	}
	if int64(len(b)) > limit {
		return nil, errnoError(unix.E2BIG, "response exceeds the limit of %d bytes", limit)
	}
	return b, nil
}

// discard drains a little of an unwanted body so that the connection can be reused.
func discard(resp *http.Response) { io.CopyN(io.Discard, resp.Body, 64<<10) }

// token returns a session token for link, from memory, disk or a PUT to the token URL. One
// request per interface at a time fetches it; the others wait and reuse it.
func (s *Service) token(ctx context.Context, c *http.Client, ep *Endpoint, link Link, r *request) (string, error) {
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, ep.TokenURL, http.NoBody)
	if err != nil {
		return "", commFailure(err)
	}
	s.setCommonHeaders(req)
	if ep.RefreshHeaderName != "" {
		secs := int64(math.Ceil(r.refresh.Seconds()))
		req.Header[ep.RefreshHeaderName] = []string{strconv.FormatInt(secs, 10)}
	}
	s.log.Debug("requesting a token", "interface", link.Name, "url", ep.TokenURL)
	resp, err := c.Do(req)
	if err != nil {
		return "", classifyTransport(ctx, err)
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
	case code == http.StatusForbidden:
		discard(resp)
		return "", ErrNotAvailable
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		discard(resp)
		return "", &transient{fmt.Errorf("token: HTTP %d", code)}
	default:
		discard(resp)
		return "", errnoError(unix.EIO, "token: HTTP status %d", code)
	}
	b, err := readBody(ctx, resp, MaxToken)
	if err != nil {
		return "", err
	}
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
