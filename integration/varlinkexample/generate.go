// Package iosteadexample is io.stead.Example, the test interface served by
// stead-varlink-example: its IDL, the generated code and the implementation.
package iosteadexample

//go:generate go tool varlink-go-interface-generator io.stead.Example.varlink
