package settingstable

import "github.com/stead-os/stead/lib/unit"

func upstreamKeysForTest() map[string][]string { return unit.UpstreamKeys() }
