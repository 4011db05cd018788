// Package iosystemdunit holds the io.systemd.Unit interface: its IDL (the
// subset stead's service manager implements) and the Go code generated from
// it.
package iosystemdunit

//go:generate go tool varlink-go-interface-generator io.systemd.Unit.varlink
