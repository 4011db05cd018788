// Package netconf reads networkd's configuration: the .network files that
// say how each link is set up, and networkd.conf's host-wide settings. It
// sits on lib/conf; every setting it does not understand or cannot parse is
// reported with FILE:LINE and skipped, the rest of the file still applies.
// See docs/systemd.network.md.
package netconf
