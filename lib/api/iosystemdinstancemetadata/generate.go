// Package iosystemdinstancemetadata holds the io.systemd.InstanceMetadata interface, through
// which imdsd hands out a cloud instance's metadata (IMDS): its IDL and the Go code generated
// from it.
package iosystemdinstancemetadata

//go:generate go tool varlink-go-interface-generator io.systemd.InstanceMetadata.varlink
