package iosteadoom

import (
	"context"

	"github.com/stead-os/stead/lib/api/internal/clienterr"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Name is the interface name. oomd serves it on io.systemd.oom's socket
// (iosystemdoom.SocketAddress).
const Name = "io.stead.oom"

// State is Describe's reply.
type State struct {
	DryRun                            bool             `json:"dryRun"`
	SwapUsedLimit                     int64            `json:"swapUsedLimit"`
	DefaultMemoryPressureLimit        int64            `json:"defaultMemoryPressureLimit"`
	DefaultMemoryPressureDurationUSec int64            `json:"defaultMemoryPressureDurationUSec"`
	PrekillHookTimeoutUSec            int64            `json:"prekillHookTimeoutUSec"`
	System                            SystemContext    `json:"system"`
	SwapMonitored                     []SwapCGroup     `json:"swapMonitored"`
	MemoryPressureMonitored           []PressureCGroup `json:"memoryPressureMonitored"`
	RulesMonitored                    []RulesCGroup    `json:"rulesMonitored"`
	Rulesets                          []Ruleset        `json:"rulesets"`
}

// Client calls io.stead.oom over a connection the caller dials and closes.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.stead.oom over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// Describe returns oomd's state.
func (c *Client) Describe(ctx context.Context) (*State, error) {
	var s State
	if err := c.conn.Call(ctx, Name+".Describe", nil, &s); err != nil {
		return nil, clienterr.Typed(err, Dispatch_Error)
	}
	return &s, nil
}
