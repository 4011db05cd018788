package sysupdate

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// Context is one run over one component's transfers.
type Context struct {
	Env       *Env
	Transfers []*Transfer // enabled ones, in file-name order
	Disabled  []*Transfer // disabled by features
	Features  []*Feature
	Fetch     *Fetcher
	StateDir  string // host path of stead's own state (journals, staged partition payloads)
	Log       *slog.Logger
	Progress  Progress
	Now       func() time.Time

	sources, targets []*Discovered
	Sets             []*UpdateSet // newest first
}

func (c *Context) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// UpdateSet is one version across all transfers.
type UpdateSet struct {
	Version    string
	Newest     bool
	Available  bool // every source offers it
	Installed  bool // every target holds it: a complete set
	Present    bool // some target holds it (upstream's "installed")
	Partial    bool // some of its payloads are downloaded (hidden), not all
	Pending    bool // all of its payloads are downloaded and verified, not installed
	Obsolete   bool
	Protected  bool
	Incomplete bool // some targets hold it, not all

	// Per transfer (nil where missing): the installed instances and those the sources offer.
	Targets []*Instance
	Sources []*Instance
}

// Discover lists sources (unless offline) and targets and groups them into update sets.
func (c *Context) Discover(ctx context.Context, sources bool) error {
	c.sources = make([]*Discovered, len(c.Transfers))
	c.targets = make([]*Discovered, len(c.Transfers))
	for i, t := range c.Transfers {
		d, err := c.discoverTarget(t)
		if err != nil {
			return err
		}
		c.targets[i] = d
		if sources {
			d, err := c.discoverSource(ctx, t)
			if err != nil {
				return err
			}
			c.sources[i] = d
		} else {
			c.sources[i] = &Discovered{}
		}
	}
	c.buildSets()
	return nil
}

func (c *Context) buildSets() {
	var versions []string
	add := func(ds []*Discovered) {
		for _, d := range ds {
			for _, in := range d.Instances {
				if !slices.ContainsFunc(versions, func(v string) bool { return CompareVersions(v, in.Version) == 0 }) {
					versions = append(versions, in.Version)
				}
			}
		}
	}
	add(c.targets)
	add(c.sources)
	slices.SortStableFunc(versions, func(a, b string) int { return CompareVersions(b, a) })

	c.Sets = nil
	newestInstalled, newestAvailable := "", ""
	for _, v := range versions {
		us := &UpdateSet{Version: v, Targets: make([]*Instance, len(c.Transfers)), Sources: make([]*Instance, len(c.Transfers))}
		nt, ns, staged := 0, 0, 0
		for i, t := range c.Transfers {
			us.Targets[i] = c.targets[i].find(v)
			us.Sources[i] = c.sources[i].find(v)
			if us.Targets[i] != nil {
				nt++
			}
			if us.Sources[i] != nil {
				ns++
			}
			if c.stagedComplete(t, v) {
				staged++
			}
			if slices.ContainsFunc(t.ProtectVersions, func(p string) bool { return CompareVersions(p, v) == 0 }) {
				us.Protected = true
			}
			if t.MinVersion != "" && CompareVersions(v, t.MinVersion) < 0 {
				us.Obsolete = true
			}
		}
		n := len(c.Transfers)
		us.Installed = n > 0 && nt == n
		us.Present = nt > 0
		us.Incomplete = nt > 0 && nt < n
		us.Available = n > 0 && ns == n
		if !us.Installed {
			us.Pending = n > 0 && staged+nt == n && staged > 0
			us.Partial = staged > 0 && !us.Pending
		}
		if nt > 0 && newestInstalled == "" {
			newestInstalled, us.Newest = v, true
		}
		if nt == 0 && ns > 0 && newestAvailable == "" {
			newestAvailable, us.Newest = v, true
		}
		c.Sets = append(c.Sets, us)
	}
}

// Current is the newest completely installed set.
func (c *Context) Current() *UpdateSet {
	for _, us := range c.Sets {
		if us.Installed {
			return us
		}
	}
	return nil
}

// Candidate is the newest available set newer than the current one, nil when there is none.
func (c *Context) Candidate() *UpdateSet {
	cur := c.Current()
	for _, us := range c.Sets {
		if !us.Available || us.Obsolete {
			continue
		}
		if cur != nil && CompareVersions(us.Version, cur.Version) <= 0 {
			return nil
		}
		if us.Installed {
			return nil
		}
		return us
	}
	return nil
}

// Find returns the set of version v.
func (c *Context) Find(v string) *UpdateSet {
	for _, us := range c.Sets {
		if CompareVersions(us.Version, v) == 0 {
			return us
		}
	}
	return nil
}
