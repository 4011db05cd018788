// Package iosystemdmanager holds the io.systemd.Manager interface: its IDL
// (the subset stead's service manager implements) and the Go code generated
// from it.
package iosystemdmanager

//go:generate go tool varlink-go-interface-generator io.systemd.Manager.varlink
