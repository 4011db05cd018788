// Package imds is the logic of the imds tool (stead's systemd-imds): it asks imdsd over
// io.systemd.InstanceMetadata for the summary, single values and user data, and imports them
// into credentials and resolver records (--import). See docs/imds.md.
package imds

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	api "github.com/stead-os/stead/lib/api/iosystemdinstancemetadata"
	"github.com/stead-os/stead/lib/api/iosystemdpcrextend"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Paths, relative to the root.
const (
	SocketPath       = api.SocketPath
	PCRExtendSocket  = iosystemdpcrextend.SocketPath
	CredstoreDir     = "/run/credstore"
	CredstoreEncDir  = "/run/credstore.encrypted"
	UserdataCopy     = "/run/systemd/imds/userdata"
	PublicRRFile     = "/run/systemd/resolve/static.d/imds-public.rr"
	DefaultImdsdPath = "/usr/lib/stead/imdsd"
	EnvImdsdPath     = "STEAD_IMDSD_PATH"
)

// WellKnown lists the well-known names in dashed form, in upstream's order.
var WellKnown = []string{"base", "hostname", "region", "zone", "ipv4-public", "ipv6-public",
	"ssh-key", "userdata", "userdata-base", "userdata-base64"}

// WellKnownWire maps a dashed or underscored well-known name to the wire value (underscores).
func WellKnownWire(name string) (string, bool) {
	w := strings.ReplaceAll(name, "-", "_")
	for _, k := range WellKnown {
		if strings.ReplaceAll(k, "-", "_") == w {
			return w, true
		}
	}
	return "", false
}

// ErrAbsent is returned by lookups when the value does not exist (KeyNotFound or
// WellKnownKeyUnset).
var ErrAbsent = errors.New("key not available")

// under resolves p under root.
func under(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	return filepath.Join(root, p)
}

// conn is a connection to imdsd with the request options.
type conn struct {
	vc        *varlinkd.Client
	c         *api.Client
	refreshUS int64
	cache     *bool
}

func newConn(vc *varlinkd.Client) *conn { return &conn{vc: vc, c: api.NewClient(vc)} }

// connect dials the socket under root, or, when it is absent or refuses connections, runs
// imdsd directly as the peer of a socket pair.
func connect(ctx context.Context, o *Options) (*conn, error) {
	sock := under(o.Root, SocketPath)
	c, err := varlinkd.Dial(ctx, api.SocketAddress(o.Root))
	if err == nil {
		return newConn(c), nil
	}
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
		if _, serr := os.Stat(sock); serr == nil {
			return nil, fmt.Errorf("connect to %s: %w", sock, err)
		}
	}
	bin := o.ImdsdPath
	if bin == "" {
		bin = DefaultImdsdPath
	}
	if _, serr := os.Stat(bin); serr != nil {
		return nil, fmt.Errorf("connect to %s: %v; cannot run imdsd instead: %w", sock, err, serr)
	}
	addr := "exec:" + bin
	if o.Root != "" && o.Root != "/" {
		addr += " --root=" + o.Root
	}
	o.log().Debug("socket not available, running imdsd directly", "socket", sock, "imdsd", bin)
	c2, err2 := varlinkd.Dial(ctx, addr)
	if err2 != nil {
		return nil, fmt.Errorf("connect to %s: %v; run %s: %w", sock, err, bin, err2)
	}
	return newConn(c2), nil
}

func (c *conn) close() { c.vc.Close() }

// get fetches a well-known value (wire name, "" for none) with an optional key suffix.
// Absent values give ErrAbsent.
func (c *conn) get(ctx context.Context, wellKnown, key string) ([]byte, error) {
	in := api.GetParameters{Cache: c.cache}
	if wellKnown != "" {
		wk := api.WellKnown(wellKnown)
		in.WellKnown = &wk
	}
	if key != "" {
		in.Key = &key
	}
	if c.refreshUS > 0 {
		in.RefreshUSec = &c.refreshUS
	}
	out, err := c.c.Get(ctx, in)
	if err != nil {
		var (
			notFound *api.KeyNotFound
			unset    *api.WellKnownKeyUnset
		)
		if errors.As(err, &notFound) || errors.As(err, &unset) {
			return nil, ErrAbsent
		}
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil {
		return nil, fmt.Errorf("imdsd sent invalid base64: %w", err)
	}
	return b, nil
}

// vendor is the cloud's name (GetVendorInfo), "" when imdsd does not say.
func (c *conn) vendor(ctx context.Context) (string, error) {
	v, err := c.c.GetVendorInfo(ctx)
	if err != nil || v.Vendor == nil {
		return "", err
	}
	return *v.Vendor, nil
}

// userdata returns the user data: userdata_base + "/systemd-userdata", else userdata, else
// userdata_base64 decoded. nil when there is none.
func (c *conn) userdata(ctx context.Context) ([]byte, error) {
	b, err := c.get(ctx, "userdata_base", "/systemd-userdata")
	if err == nil && len(b) > 0 {
		return b, nil
	}
	if err != nil && !errors.Is(err, ErrAbsent) {
		return nil, err
	}
	b, err = c.get(ctx, "userdata", "")
	if err == nil && len(b) > 0 {
		return b, nil
	}
	if err != nil && !errors.Is(err, ErrAbsent) {
		return nil, err
	}
	b, err = c.get(ctx, "userdata_base64", "")
	if errors.Is(err, ErrAbsent) || (err == nil && len(b) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		return nil, fmt.Errorf("user data (userdata_base64) is not valid base64: %w", err)
	}
	if len(d) == 0 {
		return nil, nil
	}
	return d, nil
}
