// Package iosystemdoomprekill holds the io.systemd.oom.Prekill interface: its IDL and the Go code generated from it.
// See docs/oomd.md.
package iosystemdoomprekill

//go:generate go tool varlink-go-interface-generator io.systemd.oom.Prekill.varlink
