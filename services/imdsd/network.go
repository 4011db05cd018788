package imdsd

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/stead-os/stead/lib/atomicfile"
	"github.com/stead-os/stead/lib/resolverr"
)

// Files written by --setup-network, relative to the root.
const (
	NetworkFile = "/run/systemd/network/85-imds-early.network"
	RRFile      = "/run/systemd/resolve/static.d/imds-endpoint.rr"
)

// lockdownTable is both the routing table that keeps a route to the metadata service and the
// firewall mark that selects it; upstream uses the same fixed value whatever --fwmark= says.
const lockdownTable = "0x7FFF0815"

// networkConfig renders the systemd-networkd configuration that brings up Ethernet links
// early (DHCP) so that the metadata service can be reached, with a routing table reserved to
// marked traffic and, when locked, a prohibit route that keeps everybody else out.
func networkConfig(ep *Endpoint, mode NetworkMode) string {
	var b strings.Builder
	b.WriteString("# Written by imdsd --setup-network (stead); changes are lost at the next boot.\n" +
		"#\n" +
		"# Cloud machines fetch their instance metadata over the network, so Ethernet links are\n" +
		"# configured with DHCP from early boot on.\n")
	if mode == NetworkLocked {
		b.WriteString("#\n" +
			"# Locked mode: ordinary traffic to the metadata service hits a prohibit route. Only\n" +
			"# sockets carrying firewall mark " + lockdownTable + " (SO_MARK, which needs privileges) are\n" +
			"# routed to it, through table " + lockdownTable + ".\n")
	}
	b.WriteString("\n[Match]\nType=ether\nKind=!*\n" +
		"\n[Network]\nDHCP=yes\nLinkLocalAddressing=ipv6\n" +
		"\n[DHCP]\nUseTimezone=yes\nUseHostname=yes\nUseMTU=yes\n")
	v4, v6 := ep.AddressIPv4, ep.AddressIPv6
	if v4.IsValid() || v6.IsValid() {
		fam := "ipv4"
		if !v4.IsValid() {
			fam = "ipv6"
		}
		b.WriteString("\n[Link]\nRequiredFamilyForOnline=" + fam + "\n")
	}
	type addr struct {
		a   netip.Addr
		fam string
	}
	addrs := []addr{{v4, "ipv4"}, {v6, "ipv6"}}
	if mode == NetworkLocked {
		for _, a := range addrs {
			if a.a.IsValid() {
				fmt.Fprintf(&b, "\n# Keep unmarked traffic away from the metadata service (%s).\n"+
					"[Route]\nDestination=%s\nType=prohibit\n", strings.ToUpper(a.fam[:2])+a.fam[2:], a.a)
			}
		}
	}
	for _, a := range addrs {
		if !a.a.IsValid() {
			continue
		}
		name := strings.ToUpper(a.fam[:2]) + a.fam[2:]
		fmt.Fprintf(&b, "\n# The metadata service stays reachable through table %s (%s).\n[Route]\nDestination=%s\n",
			lockdownTable, name, a.a)
		if a.fam == "ipv4" {
			b.WriteString("Scope=link\n")
		}
		fmt.Fprintf(&b, "Table=%s\n", lockdownTable)
		fmt.Fprintf(&b, "\n# Traffic marked %s is looked up in that table.\n"+
			"[RoutingPolicyRule]\nFamily=%s\nFirewallMark=%s\nTable=%s\n", lockdownTable, a.fam, lockdownTable, lockdownTable)
	}
	return b.String()
}

// rrRecords renders the _imds A/AAAA records for systemd-resolved's static.d, or "" when no
// address is known.
func rrRecords(ep *Endpoint) string {
	return string(resolverr.Addresses("_imds", ep.AddressIPv4, ep.AddressIPv6))
}

// writePublic writes a world-readable file under root, creating its directories (0755).
func writePublic(root, path, content string) error {
	full := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(full, []byte(content), 0o644)
}
