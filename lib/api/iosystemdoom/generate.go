// Package iosystemdoom holds the io.systemd.oom interface: its IDL and the Go code generated from it.
// See docs/oomd.md.
package iosystemdoom

//go:generate go tool varlink-go-interface-generator io.systemd.oom.varlink
