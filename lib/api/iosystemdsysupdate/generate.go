// Package iosystemdsysupdate holds the io.systemd.SysUpdate interface, through which
// systemd-sysupdate (stead's sysupdate) tells which targets it updates, their features and
// whether an update is offered: its IDL (systemd 262's) and the Go code generated from it.
package iosystemdsysupdate

//go:generate go tool varlink-go-interface-generator io.systemd.SysUpdate.varlink
