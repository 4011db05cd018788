package imdsd

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// WellKnown names a value every cloud has under its own path (io.systemd.InstanceMetadata's
// WellKnown enum).
type WellKnown int

// The well-known keys, in the IDL's order.
const (
	Base WellKnown = iota
	Hostname
	Region
	Zone
	IPv4Public
	IPv6Public
	SSHKey
	Userdata
	UserdataBase
	UserdataBase64
	numWellKnown
)

// wellKnownNames are the IDL's names; flags and GetVendorInfo use them with '-' for '_'.
var wellKnownNames = [numWellKnown]string{
	"base", "hostname", "region", "zone", "ipv4_public", "ipv6_public", "ssh_key",
	"userdata", "userdata_base", "userdata_base64",
}

// String returns the IDL name (ipv4_public).
func (w WellKnown) String() string {
	if w < 0 || w >= numWellKnown {
		return "WellKnown(" + strconv.Itoa(int(w)) + ")"
	}
	return wellKnownNames[w]
}

// Dashed returns the name used on the command line and in GetVendorInfo (ipv4-public).
func (w WellKnown) Dashed() string { return strings.ReplaceAll(w.String(), "_", "-") }

// ParseWellKnown accepts the IDL name; with dashed also the dashed one.
func ParseWellKnown(s string, dashed bool) (WellKnown, error) {
	for i, n := range wellKnownNames {
		if s == n && (!dashed || !strings.Contains(n, "_")) {
			return WellKnown(i), nil
		}
		if dashed && s == strings.ReplaceAll(n, "_", "-") {
			return WellKnown(i), nil
		}
	}
	return 0, fmt.Errorf("unknown well-known key %q", s)
}

// Endpoint says where a cloud's metadata service is and how to talk to it.
type Endpoint struct {
	Vendor            string
	TokenURL          string // PUT here for a session token; "" when the cloud needs none
	RefreshHeaderName string // header of the token request carrying its lifetime in seconds
	DataURL           string // keys are appended to it
	DataURLSuffix     string // appended after the key
	TokenHeaderName   string // header of data requests carrying the token
	ExtraHeaders      []string
	AddressIPv4       netip.Addr
	AddressIPv6       netip.Addr
	Keys              [numWellKnown]string // "" = not configured
}

// usable reports why requests cannot be made with e: ErrNotSupported without a data URL, or
// with only one of token URL and token header name.
func (e *Endpoint) usable() error {
	if e.DataURL == "" || (e.TokenURL == "") != (e.TokenHeaderName == "") {
		return ErrNotSupported
	}
	return nil
}

// Fields of an Endpoint a Layer can set.
type field uint

const (
	fVendor field = iota
	fTokenURL
	fRefreshHeaderName
	fDataURL
	fDataURLSuffix
	fTokenHeaderName
	fExtraHeader
	fAddressIPv4
	fAddressIPv6
	numFields
)

// fieldNames are the names of the fields in the kernel command line, credential and
// environment spellings (lower case, '_').
var fieldNames = [numFields]string{
	"vendor", "token_url", "refresh_header_name", "data_url", "data_url_suffix",
	"token_header_name", "extra_header", "address_ipv4", "address_ipv6",
}

// cliSourceFields are the fields whose flags make the command line the configuration source;
// --address-* and --well-known-key= only add to whichever source is used.
const cliSourceFields = 1<<fVendor | 1<<fTokenURL | 1<<fRefreshHeaderName | 1<<fDataURL |
	1<<fDataURLSuffix | 1<<fTokenHeaderName | 1<<fExtraHeader

// Layer is what one configuration source sets: the fields it mentions, on top of whatever
// was there.
type Layer struct {
	// Source names the source in logs ("command line", "environment", …).
	Source string
	ep     Endpoint
	set    uint32 // bit per field
	keys   uint32 // bit per WellKnown
}

// Empty reports whether the layer sets nothing.
func (l *Layer) Empty() bool { return l.set == 0 && l.keys == 0 }

// Set parses value for the field called name (see fieldNames; '-' and '_' alike) and
// records it. An empty value clears the field; extra_header appends, and an empty
// extra_header drops those set before.
func (l *Layer) Set(name, value string) error {
	name = strings.ReplaceAll(name, "-", "_")
	for i, n := range fieldNames {
		if n == name {
			return l.setField(field(i), value)
		}
	}
	return fmt.Errorf("%w %q", errUnknownSetting, name)
}

func (l *Layer) setField(f field, value string) error {
	var err error
	switch f {
	case fVendor:
		err = checkText(value)
		l.ep.Vendor = value
	case fTokenURL:
		err = checkURL(value)
		l.ep.TokenURL = value
	case fRefreshHeaderName:
		err = checkHeaderName(value)
		l.ep.RefreshHeaderName = value
	case fDataURL:
		err = checkURL(value)
		l.ep.DataURL = value
	case fDataURLSuffix:
		err = checkText(value)
		l.ep.DataURLSuffix = value
	case fTokenHeaderName:
		err = checkHeaderName(value)
		l.ep.TokenHeaderName = value
	case fExtraHeader:
		if value == "" {
			l.ep.ExtraHeaders = nil
			break
		}
		if _, _, err = splitHeader(value); err == nil {
			l.ep.ExtraHeaders = append(l.ep.ExtraHeaders, value)
		}
	case fAddressIPv4, fAddressIPv6:
		var a netip.Addr
		if a, err = parseAddress(value, f == fAddressIPv6); err == nil {
			if f == fAddressIPv4 {
				l.ep.AddressIPv4 = a
			} else {
				l.ep.AddressIPv6 = a
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", fieldNames[f], err)
	}
	l.set |= 1 << f
	return nil
}

// SetKey records the path of a well-known key; it must be a valid key (see ValidKey).
func (l *Layer) SetKey(w WellKnown, key string) error {
	if w < 0 || w >= numWellKnown {
		return fmt.Errorf("unknown well-known key %d", w)
	}
	if !ValidKey(key) {
		return fmt.Errorf("well-known key %s: %q is not a valid key", w.Dashed(), key)
	}
	l.ep.Keys[w] = key
	l.keys |= 1 << w
	return nil
}

// SetWellKnownKey parses a --well-known-key=NAME:KEY argument.
func (l *Layer) SetWellKnownKey(arg string) error {
	name, key, ok := strings.Cut(arg, ":")
	if !ok {
		return fmt.Errorf("%q: expected NAME:KEY", arg)
	}
	w, err := ParseWellKnown(name, true)
	if err != nil {
		return err
	}
	return l.SetKey(w, key)
}

// applyTo copies the fields the layer sets into e.
func (l *Layer) applyTo(e *Endpoint) {
	for f := field(0); f < numFields; f++ {
		if l.set&(1<<f) == 0 {
			continue
		}
		switch f {
		case fVendor:
			e.Vendor = l.ep.Vendor
		case fTokenURL:
			e.TokenURL = l.ep.TokenURL
		case fRefreshHeaderName:
			e.RefreshHeaderName = l.ep.RefreshHeaderName
		case fDataURL:
			e.DataURL = l.ep.DataURL
		case fDataURLSuffix:
			e.DataURLSuffix = l.ep.DataURLSuffix
		case fTokenHeaderName:
			e.TokenHeaderName = l.ep.TokenHeaderName
		case fExtraHeader:
			e.ExtraHeaders = append([]string(nil), l.ep.ExtraHeaders...)
		case fAddressIPv4:
			e.AddressIPv4 = l.ep.AddressIPv4
		case fAddressIPv6:
			e.AddressIPv6 = l.ep.AddressIPv6
		}
	}
	for w := WellKnown(0); w < numWellKnown; w++ {
		if l.keys&(1<<w) != 0 {
			e.Keys[w] = l.ep.Keys[w]
		}
	}
}

// resolve builds the endpoint: the command line's settings, then — unless the command line
// set one of the fields that make it the source (vendor, URLs, header names, extra headers) —
// the first of the other sources that sets anything, on top. Sources are consulted lazily, in
// order, and not at all once one answered. It returns the endpoint and the source used ("" if
// none).
func resolve(cli *Layer, sources ...func() Layer) (Endpoint, string) {
	var ep Endpoint
	cli.applyTo(&ep)
	if cli.set&cliSourceFields != 0 {
		return ep, cli.Source
	}
	for _, src := range sources {
		l := src()
		if !l.Empty() {
			l.applyTo(&ep)
			return ep, l.Source
		}
	}
	return ep, ""
}

// ValidKey reports whether key can be asked for: it starts with '/' and holds printable
// ASCII only.
func ValidKey(key string) bool {
	if !strings.HasPrefix(key, "/") {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] >= 0x7f {
			return false
		}
	}
	return true
}

func checkText(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return errors.New("control characters not allowed")
		}
	}
	return nil
}

func checkURL(s string) error {
	if s == "" {
		return nil
	}
	if err := checkText(s); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	// Metadata services answer plain HTTP on link-local addresses, and the daemon carries no
	// TLS (see httpClient).
	if u.Scheme == "https" {
		return fmt.Errorf("%q: https:// is not supported, metadata services speak plain http://", s)
	}
	if u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%q is not an http:// URL", s)
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110 field name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func checkHeaderName(s string) error {
	if s != "" && !isToken(s) {
		return fmt.Errorf("%q is not a valid HTTP header name", s)
	}
	return nil
}

// splitHeader parses "Name: value" (blanks around either are dropped).
func splitHeader(h string) (name, value string, err error) {
	name, value, ok := strings.Cut(h, ":")
	name, value = strings.TrimSpace(name), strings.Trim(value, " \t")
	if !ok || !isToken(name) {
		return "", "", fmt.Errorf("%q is not a valid HTTP header (NAME: VALUE)", h)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", "", fmt.Errorf("%q: control characters in the value", h)
		}
	}
	return name, value, nil
}

func parseAddress(s string, v6 bool) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4() == v6 {
		fam := "IPv4"
		if v6 {
			fam = "IPv6"
		}
		return netip.Addr{}, fmt.Errorf("%q is not an %s address", s, fam)
	}
	return a, nil
}

// ParseFirewallMark parses --fwmark=: a number (decimal, 0x hex or 0 octal) up to 2³²−1; ""
// turns marking off (returned as 0).
func ParseFirewallMark(s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("firewall mark %q: want a number below 2^32", s)
	}
	return uint32(v), nil
}

// NetworkMode is how --setup-network prepares the network for the metadata service.
type NetworkMode string

// The network modes of systemd.imds.network=.
const (
	NetworkOff      NetworkMode = "off"
	NetworkLocked   NetworkMode = "locked"
	NetworkUnlocked NetworkMode = "unlocked"
)

// ParseNetworkMode accepts off, locked and unlocked.
func ParseNetworkMode(s string) (NetworkMode, error) {
	switch m := NetworkMode(s); m {
	case NetworkOff, NetworkLocked, NetworkUnlocked:
		return m, nil
	}
	return "", fmt.Errorf("network mode %q: want off, locked or unlocked", s)
}

// Defaults systemd uses.
const (
	DefaultRefresh      = 15 * time.Minute
	DefaultFirewallMark = 0x7FFF0815
	MinRefresh          = time.Second
	MaxBody             = 4 << 20
	MaxToken            = 4096
)

// Timing holds every timer of a request; zero fields take the defaults.
type Timing struct {
	// Timeout bounds a request made on a known interface (asked for, or pinned): 40 s.
	Timeout time.Duration
	// TimeoutScan bounds a request that first has to find the interface: 45 s.
	TimeoutScan time.Duration
	// RetryInitial is the pause before the first retry, doubled for each next one: 20 ms.
	RetryInitial time.Duration
	// RetryMax caps the pause: 3 s.
	RetryMax time.Duration
	// Retries is how many times a request is repeated after a transient failure: 10.
	Retries int
}

func (t Timing) withDefaults() Timing {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Timeout, 40*time.Second)
	def(&t.TimeoutScan, 45*time.Second)
	def(&t.RetryInitial, 20*time.Millisecond)
	def(&t.RetryMax, 3*time.Second)
	if t.Retries <= 0 {
		t.Retries = 10
	}
	return t
}
