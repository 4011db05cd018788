// Package iosteadmanager holds the io.stead.Manager interface — job control
// for stead's service manager, which upstream systemd offers only over
// D-Bus — and the Go code generated from its IDL. See
// docs/io.stead.Manager.md.
package iosteadmanager

//go:generate go tool varlink-go-interface-generator io.stead.Manager.varlink
