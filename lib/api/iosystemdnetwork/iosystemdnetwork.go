// Package iosystemdnetwork holds the io.systemd.Network and io.systemd.Network.Link interfaces
// that systemd-networkd serves on /run/systemd/netif/io.systemd.Network. Their IDLs use
// capitalised field names, which varlink-go-interface-generator refuses, so this package is
// written by hand: it embeds the IDLs, decodes each method's parameters and hands them to a
// Network implementation, which replies through the call. Only the reply types stead fills in
// are declared; every field follows the IDL's name and type.
package iosystemdnetwork

import (
	"context"
	_ "embed"

	"github.com/varlink/go/varlink"
)

// Interface names.
const (
	Name     = "io.systemd.Network"
	LinkName = "io.systemd.Network.Link"
)

// Error names declared by the interfaces.
const (
	ErrorAlreadyReloading   = Name + ".AlreadyReloading"
	ErrorStorageReadOnly    = Name + ".StorageReadOnly"
	ErrorInterfaceUnmanaged = LinkName + ".InterfaceUnmanaged"
)

//go:embed io.systemd.Network.varlink
var description string

//go:embed io.systemd.Network.Link.varlink
var linkDescription string

// Address is an entry of Interface.Addresses.
type Address struct {
	Family                int     `json:"Family"`
	Address               []int   `json:"Address"`
	AddressString         string  `json:"AddressString"`
	PrefixLength          int     `json:"PrefixLength"`
	ConfigSource          string  `json:"ConfigSource"`
	ConfigProvider        []int   `json:"ConfigProvider,omitempty"`
	ConfigProviderString  string  `json:"ConfigProviderString,omitempty"`
	Broadcast             []int   `json:"Broadcast,omitempty"`
	BroadcastString       string  `json:"BroadcastString,omitempty"`
	Scope                 *int    `json:"Scope,omitempty"`
	ScopeString           string  `json:"ScopeString,omitempty"`
	Flags                 *int    `json:"Flags,omitempty"`
	FlagsString           *string `json:"FlagsString,omitempty"`
	Label                 string  `json:"Label,omitempty"`
	PreferredLifetimeUSec *uint64 `json:"PreferredLifetimeUSec,omitempty"`
	ValidLifetimeUSec     *uint64 `json:"ValidLifetimeUSec,omitempty"`
	ConfigState           string  `json:"ConfigState,omitempty"`
}

// Route is an entry of Interface.Routes and of Describe's Routes.
type Route struct {
	Family                  int    `json:"Family"`
	Destination             []int  `json:"Destination"`
	DestinationString       string `json:"DestinationString"`
	DestinationPrefixLength int    `json:"DestinationPrefixLength"`
	Gateway                 []int  `json:"Gateway,omitempty"`
	GatewayString           string `json:"GatewayString,omitempty"`
	PreferredSource         []int  `json:"PreferredSource,omitempty"`
	PreferredSourceString   string `json:"PreferredSourceString,omitempty"`
	TOS                     int    `json:"TOS"`
	Scope                   int    `json:"Scope"`
	ScopeString             string `json:"ScopeString,omitempty"`
	Protocol                int    `json:"Protocol"`
	ProtocolString          string `json:"ProtocolString,omitempty"`
	Type                    int    `json:"Type"`
	TypeString              string `json:"TypeString,omitempty"`
	Priority                int    `json:"Priority"`
	Table                   int    `json:"Table"`
	TableString             string `json:"TableString,omitempty"`
	Flags                   int    `json:"Flags"`
	ConfigSource            string `json:"ConfigSource"`
	ConfigState             string `json:"ConfigState,omitempty"`
	InterfaceIndex          *int   `json:"InterfaceIndex,omitempty"`
}

// DHCPMessage is a DHCPv4 message in the JSON form systemd uses inside DHCPv4Client.Lease:
// header fields as numbers, addresses and byte fields as hex strings, options as tag/data.
type DHCPMessage struct {
	Op      int          `json:"op"`
	HType   int          `json:"htype"`
	Hops    int          `json:"hops"`
	XID     uint32       `json:"xid"`
	Secs    int          `json:"secs"`
	Flags   int          `json:"flags"`
	CIAddr  string       `json:"ciaddr"`
	YIAddr  string       `json:"yiaddr"`
	SIAddr  string       `json:"siaddr"`
	GIAddr  string       `json:"giaddr"`
	CHAddr  string       `json:"chaddr"`
	SName   string       `json:"sname,omitempty"`
	File    string       `json:"file,omitempty"`
	Options []DHCPOption `json:"options"`
}

// DHCPOption is one option of a DHCPMessage; Data is hex.
type DHCPOption struct {
	Tag  int    `json:"tag"`
	Data string `json:"data"`
}

// DHCPv4Lease is DHCPv4Client.Lease. Timestamps are CLOCK_BOOTTIME microseconds, as upstream's.
type DHCPv4Lease struct {
	LeaseTimestampUSec *uint64      `json:"LeaseTimestampUSec,omitempty"`
	Timeout1USec       *uint64      `json:"Timeout1USec,omitempty"`
	Timeout2USec       *uint64      `json:"Timeout2USec,omitempty"`
	LifetimeUSec       *uint64      `json:"LifetimeUSec,omitempty"`
	Hostname           string       `json:"Hostname,omitempty"`
	Message            *DHCPMessage `json:"Message,omitempty"`
}

// DHCPv4Client is Interface.DHCPv4Client (an untyped object in the IDL).
type DHCPv4Client struct {
	Lease *DHCPv4Lease `json:"Lease,omitempty"`
}

// Interface describes one link.
type Interface struct {
	Index                        int           `json:"Index"`
	Name                         string        `json:"Name"`
	Kind                         string        `json:"Kind,omitempty"`
	Type                         string        `json:"Type"`
	Flags                        int           `json:"Flags"`
	FlagsString                  string        `json:"FlagsString"`
	KernelOperationalState       int           `json:"KernelOperationalState"`
	KernelOperationalStateString string        `json:"KernelOperationalStateString"`
	MTU                          int           `json:"MTU"`
	MinimumMTU                   int           `json:"MinimumMTU"`
	MaximumMTU                   int           `json:"MaximumMTU"`
	HardwareAddress              []int         `json:"HardwareAddress,omitempty"`
	BroadcastAddress             []int         `json:"BroadcastAddress,omitempty"`
	AdministrativeState          string        `json:"AdministrativeState"`
	OperationalState             string        `json:"OperationalState"`
	CarrierState                 string        `json:"CarrierState"`
	AddressState                 string        `json:"AddressState"`
	IPv4AddressState             string        `json:"IPv4AddressState"`
	IPv6AddressState             string        `json:"IPv6AddressState"`
	OnlineState                  string        `json:"OnlineState,omitempty"`
	NetworkFile                  string        `json:"NetworkFile,omitempty"`
	NetworkFileDropins           []string      `json:"NetworkFileDropins,omitempty"`
	RequiredForOnline            *bool         `json:"RequiredForOnline,omitempty"`
	RequiredOperStateForOnline   []string      `json:"RequiredOperationalStateForOnline,omitempty"`
	RequiredFamilyForOnline      string        `json:"RequiredFamilyForOnline,omitempty"`
	ActivationPolicy             string        `json:"ActivationPolicy,omitempty"`
	DNS                          []DNS         `json:"DNS,omitempty"`
	Addresses                    []Address     `json:"Addresses,omitempty"`
	Routes                       []Route       `json:"Routes,omitempty"`
	DHCPv4Client                 *DHCPv4Client `json:"DHCPv4Client,omitempty"`
}

// DNS is an entry of Interface.DNS: a DNS server of the link and where it came from
// (ConfigSource static or DHCPv4, the DHCP server as provider).
type DNS struct {
	Family               int    `json:"Family"`
	Address              []int  `json:"Address"`
	AddressString        string `json:"AddressString"`
	ConfigSource         string `json:"ConfigSource"`
	ConfigProvider       []int  `json:"ConfigProvider,omitempty"`
	ConfigProviderString string `json:"ConfigProviderString,omitempty"`
}

// DescribeReply is io.systemd.Network.Describe's reply.
type DescribeReply struct {
	Interfaces []Interface `json:"Interfaces,omitempty"`
	Routes     []Route     `json:"Routes,omitempty"`
}

// States is io.systemd.Network.GetStates's reply.
type States struct {
	AddressState     string `json:"AddressState"`
	IPv4AddressState string `json:"IPv4AddressState"`
	IPv6AddressState string `json:"IPv6AddressState"`
	CarrierState     string `json:"CarrierState"`
	OnlineState      string `json:"OnlineState,omitempty"`
	OperationalState string `json:"OperationalState"`
}

// NamespaceID is io.systemd.Network.GetNamespaceId's reply.
type NamespaceID struct {
	NamespaceId   uint64  `json:"NamespaceId"`
	NamespaceNSID *uint64 `json:"NamespaceNSID"`
}

// LLDPNeighborsByInterface is an entry of GetLLDPNeighbors' reply. Neighbors' entries follow
// the IDL's LLDPNeighbor; stead has none to report, so they stay untyped.
type LLDPNeighborsByInterface struct {
	InterfaceIndex int    `json:"InterfaceIndex"`
	InterfaceName  string `json:"InterfaceName"`
	Neighbors      []any  `json:"Neighbors"`
}

// Selector names a link by index or name, as the Link methods and GetLLDPNeighbors take it.
type Selector struct {
	InterfaceIndex *int64  `json:"InterfaceIndex,omitempty"`
	InterfaceName  *string `json:"InterfaceName,omitempty"`
}

// Network is what a daemon implements. Each method replies through c itself (c.Reply or an
// error); parameters have been checked against the IDL before.
type Network interface {
	Describe(ctx context.Context, c *varlink.Call) error
	GetStates(ctx context.Context, c *varlink.Call) error
	GetNamespaceId(ctx context.Context, c *varlink.Call) error
	GetLLDPNeighbors(ctx context.Context, c *varlink.Call, sel Selector) error
	Reload(ctx context.Context, c *varlink.Call, reconfigureLinks *bool) error
	SetPersistentStorage(ctx context.Context, c *varlink.Call, ready bool) error
	// LinkDescribe serves io.systemd.Network.Link.Describe.
	LinkDescribe(ctx context.Context, c *varlink.Call, sel Selector) error
	// LinkAction serves io.systemd.Network.Link's Up, Down, Renew, ForceRenew and
	// Reconfigure (method is the bare name).
	LinkAction(ctx context.Context, c *varlink.Call, method string, sel Selector) error
}

// Dispatcher serves io.systemd.Network for a Network.
type Dispatcher struct{ N Network }

// LinkDispatcher serves io.systemd.Network.Link for a Network.
type LinkDispatcher struct{ N Network }

// VarlinkNew returns the dispatchers of both interfaces.
func VarlinkNew(n Network) (Dispatcher, LinkDispatcher) { return Dispatcher{n}, LinkDispatcher{n} }

// VarlinkDispatch decodes the parameters of method and calls the implementation.
func (d Dispatcher) VarlinkDispatch(ctx context.Context, call varlink.Call, method string) error {
	c := &call
	switch method {
	case "Describe":
		return d.N.Describe(ctx, c)
	case "GetStates":
		return d.N.GetStates(ctx, c)
	case "GetNamespaceId":
		return d.N.GetNamespaceId(ctx, c)
	case "GetLLDPNeighbors":
		var in Selector
		if err := c.GetParameters(&in); err != nil {
			return c.ReplyInvalidParameter(ctx, "parameters")
		}
		return d.N.GetLLDPNeighbors(ctx, c, in)
	case "Reload":
		var in struct {
			ReconfigureLinks *bool `json:"reconfigureLinks,omitempty"`
		}
		if err := c.GetParameters(&in); err != nil {
			return c.ReplyInvalidParameter(ctx, "parameters")
		}
		return d.N.Reload(ctx, c, in.ReconfigureLinks)
	case "SetPersistentStorage":
		var in struct {
			Ready bool `json:"Ready"`
		}
		if err := c.GetParameters(&in); err != nil {
			return c.ReplyInvalidParameter(ctx, "parameters")
		}
		return d.N.SetPersistentStorage(ctx, c, in.Ready)
	}
	return c.ReplyMethodNotFound(ctx, Name+"."+method)
}

// VarlinkGetName returns the interface name.
func (Dispatcher) VarlinkGetName() string { return Name }

// VarlinkGetDescription returns the IDL text.
func (Dispatcher) VarlinkGetDescription() string { return description }

// VarlinkDispatch decodes the parameters of method and calls the implementation.
func (d LinkDispatcher) VarlinkDispatch(ctx context.Context, call varlink.Call, method string) error {
	c := &call
	var in Selector
	if err := c.GetParameters(&in); err != nil {
		return c.ReplyInvalidParameter(ctx, "parameters")
	}
	switch method {
	case "Describe":
		return d.N.LinkDescribe(ctx, c, in)
	case "Up", "Down", "Renew", "ForceRenew", "Reconfigure":
		return d.N.LinkAction(ctx, c, method, in)
	}
	return c.ReplyMethodNotFound(ctx, LinkName+"."+method)
}

// VarlinkGetName returns the interface name.
func (LinkDispatcher) VarlinkGetName() string { return LinkName }

// VarlinkGetDescription returns the IDL text.
func (LinkDispatcher) VarlinkGetDescription() string { return linkDescription }
