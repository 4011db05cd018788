// Package sysupdate is stead's systemd-sysupdate: it updates a system A/B style from
// sysupdate.d/*.transfer definitions (transfer.go), matching versions by MatchPattern=
// (pattern.go) and ordering them as upstream does (version.go). An update is downloaded,
// verified and staged under hidden names first (stage.go), and only then installed through a
// journal of idempotent steps (install.go, update.go), so that an interrupted update is
// either invisible or finished by the next run. As a service it serves io.systemd.SysUpdate
// (varlink.go). See docs/sysupdate.md and docs/sysupdate.d.md.
package sysupdate

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/conf"
)

// Exit codes.
const (
	ExitSuccess = 0
	ExitFailure = 1
)

// Options are sysupdate's command line.
type Options struct {
	Root           string
	Definitions    string
	Component      string
	Image          string
	TransferSource string
	InstancesMax   int   // 0: as each transfer says
	Verify         *bool // nil: as each transfer says
	Reboot         bool
	Offline        bool
	JSON           string // "", "pretty", "short"
	NoLegend       bool
	Version        string

	Verb string
	Args []string

	Stdout, Stderr io.Writer
	Terminal       bool // draw a progress bar on Stderr
	Log            *slog.Logger
	Client         *http.Client // tests

	autoDisk string // the disk of Path=auto partition targets (the loop device of --image=)
}

// Verbs and how many arguments each takes at most.
var Verbs = map[string]int{"list": 1, "features": 1, "check-new": 0, "update": 1, "acquire": 1,
	"vacuum": 0, "pending": 0, "reboot": 0, "components": 0,
	"enable-feature": math.MaxInt, "disable-feature": math.MaxInt}

// StateDir is where stead keeps its install journals and staged partition payloads (upstream
// has no such directory; see docs/sysupdate.md).
const StateDir = "/var/lib/stead/sysupdate"

// NewContext reads the definitions for o.
func NewContext(o Options) (*Context, error) {
	env := &Env{Root: o.Root, Definitions: o.Definitions, Component: o.Component,
		TransferSource: o.TransferSource, Spec: NewSpecifiers(o.Root), AutoDisk: o.autoDisk}
	env.Warn = func(err error) { o.Log.Warn(err.Error()) }
	features, err := env.LoadFeatures()
	if err != nil {
		return nil, err
	}
	all, err := env.LoadTransfers()
	if err != nil {
		return nil, err
	}
	c := &Context{Env: env, Features: features, Log: o.Log, Progress: NoProgress{}}
	for _, t := range all {
		if o.InstancesMax > 0 {
			t.InstancesMax = o.InstancesMax
		}
		for _, f := range features {
			if slices.Contains(t.Features, f.ID) || slices.Contains(t.RequisiteFeatures, f.ID) {
				f.Transfers = append(f.Transfers, t.ID)
			}
		}
		if transferEnabled(t, features) {
			c.Transfers = append(c.Transfers, t)
		} else {
			c.Disabled = append(c.Disabled, t)
		}
	}
	client := o.Client
	if client == nil {
		// No proxy from the environment: sources are named by their URLs alone.
		client = &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			ResponseHeaderTimeout: 60 * time.Second}}
	}
	c.Fetch = &Fetcher{Client: client, Offline: o.Offline, Verify: o.Verify, Keyring: func() ([]byte, error) { return importKeyring(o.Root) }}
	comp := "host"
	if o.Component != "" {
		comp = "component-" + o.Component
	}
	c.StateDir = filepath.Join(env.hostPath(StateDir), comp)
	if o.Stderr != nil {
		c.Progress = NewProgress(o.Stderr, o.Terminal)
	}
	return c, nil
}

// importKeyring is the keyring SHA256SUMS signatures are checked against: upstream's
// /usr/lib/systemd/import-pubring.pgp and /etc/systemd/import-pubring.pgp (else .gpg).
func importKeyring(root string) ([]byte, error) {
	var kr []byte
	for _, set := range [][]string{{"/usr/lib/systemd/import-pubring.pgp"}, {"/etc/systemd/import-pubring.pgp", "/etc/systemd/import-pubring.gpg"}} {
		for _, p := range set {
			b, err := os.ReadFile(filepath.Join(root, p))
			if err == nil {
				kr = append(kr, b...)
				break
			}
		}
	}
	if len(kr) == 0 {
		return nil, errors.New("no keyring (/etc/systemd/import-pubring.pgp or /usr/lib/systemd/import-pubring.pgp)")
	}
	return kr, nil
}

// Main runs one verb and returns the exit code.
func Main(ctx context.Context, o Options) int {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(o.Stderr, nil))
	}
	if o.Image != "" {
		return runImage(ctx, o)
	}
	if o.Root == "" {
		o.Root = "/"
	}
	if err := run(ctx, o); err != nil {
		if errors.Is(err, errQuietFailure) {
			return ExitFailure
		}
		fmt.Fprintln(o.Stderr, err)
		return ExitFailure
	}
	return ExitSuccess
}

// errQuietFailure is a failure exit whose reason was printed already (or needs none).
var errQuietFailure = errors.New("failure")

func run(ctx context.Context, o Options) error {
	if o.Reboot && o.Component != "" {
		return errors.New("--reboot may not be combined with --component=")
	}
	if o.Verb == "components" {
		return components(o)
	}
	c, err := NewContext(o)
	if err != nil {
		return err
	}
	if o.Verb == "features" {
		return features(o, c)
	}
	if o.Verb == "enable-feature" || o.Verb == "disable-feature" {
		return setFeatures(o, c, o.Verb == "enable-feature")
	}
	if len(c.Transfers) == 0 {
		return errors.New("No transfer definitions found.")
	}
	switch o.Verb {
	case "list":
		return list(ctx, o, c)
	case "check-new":
		return checkNew(ctx, o, c)
	case "update", "acquire":
		return update(ctx, o, c)
	case "vacuum":
		unlock, err := c.Lock()
		if err != nil {
			return err
		}
		defer unlock()
		n, err := c.Vacuum(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			o.Log.Info("Found nothing to remove.")
		} else {
			o.Log.Info(fmt.Sprintf("Removed %d instances.", n))
		}
		return nil
	case "pending", "reboot":
		return pending(ctx, o, c)
	}
	return fmt.Errorf("unknown verb %q", o.Verb)
}

func writeJSON(o Options, v any) error {
	var b []byte
	var err error
	if o.JSON == "pretty" {
		b, err = json.MarshalIndent(v, "", "\t")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Stdout, "%s\n", b)
	return err
}

// list: the update sets, or one set's details.
func list(ctx context.Context, o Options, c *Context) error {
	if err := c.Discover(ctx, !o.Offline); err != nil {
		return err
	}
	if len(o.Args) == 0 {
		return listAll(o, c)
	}
	us := c.Find(o.Args[0])
	if us == nil {
		return fmt.Errorf("Update '%s' not found.", o.Args[0])
	}
	return listOne(o, c, us)
}

func listAll(o Options, c *Context) error {
	cur := c.Current()
	if o.JSON != "" {
		var out struct {
			Current    *string  `json:"current"`
			All        []string `json:"all"`
			AppStreams []string `json:"appstreamUrls"`
		}
		if cur != nil {
			out.Current = &cur.Version
		}
		out.All, out.AppStreams = []string{}, []string{}
		for _, us := range c.Sets {
			out.All = append(out.All, us.Version)
		}
		for _, t := range c.Transfers {
			if t.AppStream != "" && !slices.Contains(out.AppStreams, t.AppStream) {
				out.AppStreams = append(out.AppStreams, t.AppStream)
			}
		}
		return writeJSON(o, out)
	}
	if len(c.Sets) == 0 {
		o.Log.Info("No updates available.")
		return nil
	}
	cand := c.Candidate()
	rows := [][]string{{"", "VERSION", "INSTALLED", "AVAILABLE", "ASSESSMENT"}}
	for _, us := range c.Sets {
		sym, what := " ", ""
		switch {
		case us == cur:
			sym, what = "●", "current"
		case us == cand:
			sym, what = "↻", "candidate"
		case us.Incomplete || us.Partial:
			sym, what = "◌", "incomplete"
		case us.Pending:
			sym, what = "↻", "pending"
		case us.Obsolete:
			sym, what = "✗", "obsolete"
		case us.Installed && us.Protected:
			sym, what = "○", "protected"
		case us.Installed:
			sym, what = "○", "installed"
		case us.Available:
			what = "available"
		}
		rows = append(rows, []string{sym, us.Version, check(us.Present), check(us.Available), what})
	}
	printTable(o.Stdout, rows, !o.NoLegend)
	return nil
}

func check(b bool) string {
	if b {
		return "✓"
	}
	return ""
}

// printTable prints columns padded to their widths, centring the check marks as upstream.
func printTable(w io.Writer, rows [][]string, header bool) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], len([]rune(cell)))
		}
	}
	for n, r := range rows {
		if n == 0 && !header {
			continue
		}
		var b strings.Builder
		for i, cell := range r {
			pad := width[i] - len([]rune(cell))
			if i == 0 {
				b.WriteString(cell + strings.Repeat(" ", pad) + " ")
				continue
			}
			if (i == 2 || i == 3) && n > 0 {
				left := pad / 2
				b.WriteString(strings.Repeat(" ", left) + cell + strings.Repeat(" ", pad-left))
			} else {
				b.WriteString(cell + strings.Repeat(" ", pad))
			}
			if i < len(r)-1 {
				b.WriteString(" ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// contentJSON is one resource of a set in `list VERSION --json`.
type contentJSON struct {
	Type   ResourceType `json:"type"`
	Path   string       `json:"path"`
	Mtime  *int64       `json:"mtime"`
	Mode   *uint32      `json:"mode"`
	SHA256 *string      `json:"sha256"`
}

func listOne(o Options, c *Context, us *UpdateSet) error {
	var contents []contentJSON
	var changelogs []string
	for i, t := range c.Transfers {
		// Each transfer's installed instance, else the one its source offers (as upstream).
		in := us.Targets[i]
		if in == nil {
			in = us.Sources[i]
		}
		for _, cl := range t.ChangeLog {
			changelogs = append(changelogs, strings.ReplaceAll(cl, "@v", us.Version))
		}
		if in == nil {
			continue
		}
		r := t.Target
		if us.Targets[i] == nil {
			r = t.Source
		}
		ct := contentJSON{Type: r.Type, Path: in.Path}
		if in.HasSHA256 {
			h := hex.EncodeToString(in.SHA256[:])
			ct.SHA256 = &h
		}
		if in.Partition != nil {
			ct.Path = fmt.Sprintf("%s (partition %d)", in.Path, in.Partition.Index)
		}
		if !in.Mtime.IsZero() {
			mt := in.Mtime.UnixMicro()
			mode := uint32(in.Mode.Perm())
			ct.Mtime, ct.Mode = &mt, &mode
		}
		contents = append(contents, ct)
	}
	if o.JSON != "" {
		return writeJSON(o, orderedSet{"version": us.Version, "newest": us.Newest, "available": us.Available,
			"installed": us.Present, "partial": us.Partial, "pending": us.Pending, "obsolete": us.Obsolete,
			"protected": us.Protected, "incomplete": us.Incomplete, "changelogUrls": nonNil(changelogs),
			"contents": contentsJSON(contents)})
	}
	rows := [][]string{{"", "Version:", us.Version}}
	state := []string{}
	for _, f := range []struct {
		on   bool
		name string
	}{{us.Present, "installed"}, {us.Available, "available"}, {us.Newest, "newest"}, {us.Protected, "protected"},
		{us.Incomplete, "incomplete"}, {us.Partial, "partial"}, {us.Pending, "pending"}, {us.Obsolete, "obsolete"}} {
		if f.on {
			state = append(state, f.name)
		}
	}
	fmt.Fprintf(o.Stdout, "    Version: %s\n      State: %s\n", us.Version, strings.Join(state, ", "))
	for _, cl := range changelogs {
		fmt.Fprintf(o.Stdout, "  ChangeLog: %s\n", cl)
	}
	_ = rows
	fmt.Fprintln(o.Stdout)
	tab := [][]string{{"", "TYPE", "PATH"}}
	for _, ct := range contents {
		tab = append(tab, []string{"", string(ct.Type), ct.Path})
	}
	printTable(o.Stdout, tab, !o.NoLegend)
	return nil
}

// contentsJSON writes the contents as upstream does: mtime and mode appear (null where
// unknown) when any resource has them, sha256 when any has one.
func contentsJSON(cs []contentJSON) []map[string]any {
	var times, sums bool
	for _, c := range cs {
		times = times || c.Mtime != nil
		sums = sums || c.SHA256 != nil
	}
	out := []map[string]any{}
	for _, c := range cs {
		m := map[string]any{"type": c.Type, "path": c.Path}
		if times {
			m["mtime"], m["mode"] = c.Mtime, c.Mode
		}
		if sums {
			m["sha256"] = c.SHA256
		}
		out = append(out, m)
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// orderedSet keeps upstream's field order in `list VERSION --json`.
type orderedSet map[string]any

func (m orderedSet) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteString("{")
	for i, k := range []string{"version", "newest", "available", "installed", "partial", "pending", "obsolete",
		"protected", "incomplete", "changelogUrls", "contents"} {
		v, err := json.Marshal(m[k])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteString("}")
	return []byte(b.String()), nil
}

// checkNew prints the candidate's version; without one it fails (upstream's exit status).
func checkNew(ctx context.Context, o Options, c *Context) error {
	if err := c.Discover(ctx, !o.Offline); err != nil {
		return err
	}
	cand := c.Candidate()
	if o.JSON != "" {
		var v *string
		if cand != nil {
			v = &cand.Version
		}
		if err := writeJSON(o, map[string]*string{"available": v}); err != nil {
			return err
		}
	} else if cand != nil {
		fmt.Fprintln(o.Stdout, cand.Version)
	}
	if cand == nil {
		return errQuietFailure
	}
	return nil
}

func update(ctx context.Context, o Options, c *Context) error {
	unlock, err := c.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	version := ""
	if len(o.Args) > 0 {
		version = o.Args[0]
	}
	res, err := c.Update(ctx, version, o.Verb == "update")
	if errors.Is(err, ErrNoUpdate) {
		o.Log.Info("No update needed.")
		return nil
	}
	if err != nil {
		return err
	}
	if res.Installed {
		notifyAll(ctx, o, c, res)
		if o.Reboot {
			return reboot(ctx, o)
		}
	}
	return nil
}

// pending reports (exit status) whether a newer version than the booted one (IMAGE_VERSION=
// of os-release) is installed; reboot reboots then.
func pending(ctx context.Context, o Options, c *Context) error {
	booted := c.Env.Spec.OSRelease["IMAGE_VERSION"]
	if booted == "" {
		return errors.New("os-release has no IMAGE_VERSION=: cannot tell which version is booted")
	}
	if err := c.Discover(ctx, false); err != nil {
		return err
	}
	cur := c.Current()
	if cur == nil || CompareVersions(cur.Version, booted) <= 0 {
		o.Log.Info(fmt.Sprintf("Booted version %s is the newest installed.", booted))
		if o.Verb == "reboot" {
			return nil
		}
		return errQuietFailure
	}
	o.Log.Info(fmt.Sprintf("Newer version %s is installed than booted %s.", cur.Version, booted))
	if o.Verb == "reboot" {
		return reboot(ctx, o)
	}
	return nil
}

// components lists sysupdate.NAME.d directories holding transfers.
func components(o Options) error {
	hasDefault, names := listComponents(o.Root)
	if o.JSON != "" {
		return writeJSON(o, struct {
			Default    bool     `json:"default"`
			Components []string `json:"components"`
		}{hasDefault, nonNil(names)})
	}
	if !hasDefault && len(names) == 0 {
		o.Log.Info("No components defined.")
		return nil
	}
	rows := [][]string{{"", "COMPONENT"}}
	if hasDefault {
		rows = append(rows, []string{"", "<default>"})
	}
	for _, n := range names {
		rows = append(rows, []string{"", n})
	}
	printTable(o.Stdout, rows, !o.NoLegend)
	return nil
}

// listComponents reports whether sysupdate.d has transfers, and the names of the
// sysupdate.NAME.d directories that have.
func listComponents(root string) (bool, []string) {
	env := &Env{Root: root}
	hasDefault := false
	if fs, _ := listFiles(env.Root, env.DefinitionDirs(), ".transfer"); len(fs) > 0 {
		hasDefault = true
	}
	seen := map[string]bool{}
	var names []string
	for _, d := range conf.SearchDirs() {
		ents, _ := os.ReadDir(env.hostPath(d))
		for _, de := range ents {
			n, ok := strings.CutPrefix(de.Name(), "sysupdate.")
			if !ok {
				continue
			}
			n, ok = strings.CutSuffix(n, ".d")
			if !ok || n == "" || seen[n] {
				continue
			}
			ce := &Env{Root: root, Component: n}
			if fs, _ := listFiles(ce.Root, ce.DefinitionDirs(), ".transfer"); len(fs) > 0 {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return hasDefault, names
}

// features lists the component's features, or one feature's details.
func features(o Options, c *Context) error {
	if len(o.Args) == 1 {
		i := slices.IndexFunc(c.Features, func(f *Feature) bool { return f.ID == o.Args[0] })
		if i < 0 {
			return fmt.Errorf("Feature '%s' not found.", o.Args[0])
		}
		f := c.Features[i]
		if o.JSON != "" {
			return writeJSON(o, featureJSON(f))
		}
		fmt.Fprintf(o.Stdout, "     Name: %s\n  Enabled: %s\n", f.ID, yesNo(f.Enabled))
		if f.Description != "" {
			fmt.Fprintf(o.Stdout, "Description: %s\n", f.Description)
		}
		fmt.Fprintf(o.Stdout, "Transfers: %s\n", strings.Join(f.Transfers, ", "))
		return nil
	}
	if o.JSON != "" {
		// Names only, as upstream; `features NAME` has the details.
		out := []string{}
		for _, f := range c.Features {
			out = append(out, f.ID)
		}
		return writeJSON(o, map[string]any{"features": out})
	}
	rows := [][]string{{"", "ENABLED", "FEATURE", "DESCRIPTION"}}
	for _, f := range c.Features {
		rows = append(rows, []string{"", yesNo(f.Enabled), f.ID, f.Description})
	}
	printTable(o.Stdout, rows, !o.NoLegend)
	if len(c.Features) == 0 {
		fmt.Fprintln(o.Stdout, "No features.")
	}
	return nil
}

func featureJSON(f *Feature) map[string]any {
	m := map[string]any{"id": f.ID, "enabled": f.Enabled, "suggested": f.Suggested, "transfers": nonNil(f.Transfers)}
	if f.Description != "" {
		m["description"] = f.Description
	}
	if len(f.Documentation) > 0 {
		m["documentation"] = f.Documentation
	}
	if f.AppStream != "" {
		m["appStream"] = f.AppStream
	}
	return m
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
