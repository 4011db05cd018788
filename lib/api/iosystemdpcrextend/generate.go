// Package iosystemdpcrextend holds the io.systemd.PCRExtend interface, through which a TPM
// measurement service extends PCRs (imds measures user data with it before importing): its
// IDL and the Go code generated from it.
package iosystemdpcrextend

//go:generate go tool varlink-go-interface-generator io.systemd.PCRExtend.varlink
