// Package iosystemdmanagedoom holds the io.systemd.ManagedOOM interface
// that the service manager serves for systemd-oomd, and the Go code
// generated from its IDL. See docs/io.systemd.ManagedOOM.md.
package iosystemdmanagedoom

//go:generate go tool varlink-go-interface-generator io.systemd.ManagedOOM.varlink
