// Package iosystemdservice holds the io.systemd.service interface: its IDL and the Go code
// generated from it. Every stead daemon serves it through lib/varlinkd.
package iosystemdservice

//go:generate go tool varlink-go-interface-generator io.systemd.service.varlink
