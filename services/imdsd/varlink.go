package imdsd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"

	api "github.com/stead-os/stead/lib/api/iosystemdinstancemetadata"
	"github.com/stead-os/stead/lib/varlinkd"
)

// varlinkService implements io.systemd.InstanceMetadata on top of a Service.
type varlinkService struct{ s *Service }

// Dispatcher returns the service's io.systemd.InstanceMetadata implementation, ready for
// varlinkd.Server.Register.
func (s *Service) Dispatcher() varlinkd.Dispatcher { return api.VarlinkNew(&varlinkService{s}) }

// Get serves privileged callers only: the metadata may hold secrets (user data, keys).
func (v *varlinkService) Get(ctx context.Context, c api.VarlinkCall, key *string, wellKnown *api.WellKnown,
	iface *int64, refreshUSec *int64, cache *bool, firewallMark *int64, wait *bool, _ *bool) error {
	p := GetParams{Key: key, Interface: iface, RefreshUSec: refreshUSec, Cache: cache, FirewallMark: firewallMark, Wait: wait}
	if wellKnown != nil {
		w := string(*wellKnown)
		p.WellKnown = &w
	}
	w, err := p.validate()
	if err != nil {
		return v.replyError(ctx, c, err)
	}
	if ok, err := varlinkd.RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	r, err := v.s.prepare(w, p)
	if err != nil {
		return v.replyError(ctx, c, err)
	}
	data, idx, err := v.s.get(ctx, r)
	if err != nil {
		return v.replyError(ctx, c, err)
	}
	i := int64(idx)
	return c.ReplyGet(ctx, base64.StdEncoding.EncodeToString(data), &i)
}

// GetVendorInfo is open to everyone: it reveals configuration, no metadata.
func (v *varlinkService) GetVendorInfo(ctx context.Context, c api.VarlinkCall) error {
	ep, _ := v.s.Endpoint()
	if err := ep.usable(); err != nil {
		return v.replyError(ctx, c, err)
	}
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	var headers *[]string
	if len(ep.ExtraHeaders) > 0 {
		headers = &ep.ExtraHeaders
	}
	return c.ReplyGetVendorInfo(ctx, str(ep.Vendor), str(ep.TokenURL), str(ep.RefreshHeaderName),
		str(ep.DataURL), str(ep.DataURLSuffix), str(ep.TokenHeaderName), headers,
		addressBytes(ep.AddressIPv4), addressBytes(ep.AddressIPv6), wellKnownObject(&ep))
}

// addressBytes renders an address as a list of byte values, as upstream does.
func addressBytes(a netip.Addr) *[]int64 {
	if !a.IsValid() {
		return nil
	}
	var out []int64
	for _, b := range a.AsSlice() {
		out = append(out, int64(b))
	}
	return &out
}

// wellKnownObject renders the configured well-known keys as {"dashed-name": "/path"} in the
// IDL's order; nil when none is configured.
func wellKnownObject(ep *Endpoint) *json.RawMessage {
	var buf bytes.Buffer
	for w := WellKnown(0); w < numWellKnown; w++ {
		if ep.Keys[w] == "" {
			continue
		}
		if buf.Len() == 0 {
			buf.WriteByte('{')
		} else {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(w.Dashed())
		val, _ := json.Marshal(ep.Keys[w])
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(val)
	}
	if buf.Len() == 0 {
		return nil
	}
	buf.WriteByte('}')
	raw := json.RawMessage(buf.Bytes())
	return &raw
}

// replyError maps the service's errors to the interface's.
func (v *varlinkService) replyError(ctx context.Context, c api.VarlinkCall, err error) error {
	var ip *InvalidParameterError
	switch {
	case errors.As(err, &ip):
		return varlinkd.ReplyInvalidParameter(ctx, c.Call, ip.Parameter)
	case errors.Is(err, ErrKeyNotFound):
		return c.ReplyKeyNotFound(ctx)
	case errors.Is(err, ErrNotAvailable):
		return c.ReplyNotAvailable(ctx)
	case errors.Is(err, ErrNotSupported):
		return c.ReplyNotSupported(ctx)
	case errors.Is(err, ErrWellKnownKeyUnset):
		return c.ReplyWellKnownKeyUnset(ctx)
	case errors.Is(err, ErrTimeout):
		v.s.log.Info("request timed out", "err", err)
		return c.ReplyTimeout(ctx)
	case errors.Is(err, ErrCommunicationFailure):
		v.s.log.Info("request failed", "err", err)
		return c.ReplyCommunicationFailure(ctx)
	}
	v.s.log.Info("request failed", "err", err)
	return varlinkd.ReplyErrno(ctx, c.Call, err)
}
