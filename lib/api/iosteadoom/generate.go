// Package iosteadoom holds the io.stead.oom interface: its IDL and the Go code generated from it.
// See docs/oomd.md.
package iosteadoom

//go:generate go tool varlink-go-interface-generator io.stead.oom.varlink
