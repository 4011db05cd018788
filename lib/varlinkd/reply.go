package varlinkd

import (
	"context"

	"github.com/varlink/go/varlink"
)

// ReplyList answers a method that lists things: one reply per item, all but the last marked
// to continue when the caller asked for more; several items without `more` are
// ExpectedMore. An empty list is the caller's to answer, each interface having its own
// error for it.
func ReplyList[T any](ctx context.Context, c *varlink.Call, items []T) error {
	if !c.WantsMore() && len(items) > 1 {
		return ReplyExpectedMore(ctx, *c)
	}
	for i, it := range items {
		c.Continues = c.WantsMore() && i < len(items)-1
		if err := c.Reply(ctx, it); err != nil {
			return err
		}
	}
	return nil
}
