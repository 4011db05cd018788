package iosteadexample

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/varlinkd"
	"golang.org/x/sys/unix"
)

// Service implements io.stead.Example.
type Service struct {
	// SecretText is what the Secret method reveals to privileged peers.
	SecretText string
}

// Dispatcher returns the service ready for varlinkd.Server.Register.
func (s *Service) Dispatcher() varlinkd.Dispatcher { return VarlinkNew(s) }

// Echo repeats text.
func (s *Service) Echo(ctx context.Context, c VarlinkCall, text string, count *int64) error {
	n := int64(1)
	if count != nil {
		n = *count
	}
	if n < 0 || n > 1024 {
		return varlinkd.ReplyInvalidParameter(ctx, c.Call, "count")
	}
	return c.ReplyEcho(ctx, strings.Repeat(text, int(n)))
}

// Count streams 1..n.
func (s *Service) Count(ctx context.Context, c VarlinkCall, n int64) error {
	if n < 1 {
		return varlinkd.ReplyInvalidParameter(ctx, c.Call, "n")
	}
	for i := int64(1); i <= n; i++ {
		c.Continues = i < n
		if err := c.ReplyCount(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// Fail always fails.
func (s *Service) Fail(ctx context.Context, c VarlinkCall, errno *int64) error {
	if errno != nil {
		return varlinkd.ReplyErrno(ctx, c.Call, unix.Errno(*errno))
	}
	return c.ReplyNotFound(ctx, "anything")
}

// Secret is for privileged peers only.
func (s *Service) Secret(ctx context.Context, c VarlinkCall) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	return c.ReplySecret(ctx, s.SecretText)
}

// Types counts the fields it was given; validation happened before it ran.
func (s *Service) Types(ctx context.Context, c VarlinkCall, _ bool, _ float64, _ string, _ string,
	_ []int64, _ map[string]string, _ json.RawMessage, pair *Pair, pairs *[]Pair) error {
	n := int64(7)
	if pair != nil {
		n++
	}
	if pairs != nil {
		n++
	}
	return c.ReplyTypes(ctx, n)
}

// Sleep answers after the given delay, or when the connection's context ends.
func (s *Service) Sleep(ctx context.Context, c VarlinkCall, ms int64) error {
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-ctx.Done():
	}
	return c.ReplySleep(ctx)
}
