// Package fetchtest serves a directory over HTTP on loopback for tests of downloads.
package fetchtest

import "testing"

// Server serves a directory with Range, If-Range and ETag support and fault injection.
type Server struct{}

// New starts a server for dir; it stops when t ends.
func New(t testing.TB, dir string) *Server { return &Server{} }

// URL is the server's base URL, without a trailing slash.
func (s *Server) URL() string { return "" }

// BytesServed counts the body bytes sent for path.
func (s *Server) BytesServed(path string) int64 { return 0 }

// DropAfter makes the next request for path send n body bytes, then close the connection.
func (s *Server) DropAfter(path string, n int64) {}

// Requests counts the requests for path.
func (s *Server) Requests(path string) int { return 0 }
