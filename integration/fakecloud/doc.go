// Package fakecloud is a fake cloud instance-metadata service (IMDS) for stead's tests.
//
// A Server emulates one cloud's metadata endpoint: its URL layout, the headers it demands,
// its token handshake and its error statuses, serving the data of one instance (an Instance,
// with per-cloud defaults). It serves only on listeners the caller hands it (loopback, or an
// address inside a network namespace the test created); the package itself never dials out.
//
//	srv, err := fakecloud.New("amazon-ec2", fakecloud.WithHostname("web-1"))
//	ts := httptest.NewServer(srv.Handler())
//	defer ts.Close()
//	defer srv.Close()
//
//	ep := srv.Info().Endpoint.Rebase(ts.URL)   // the hwdb endpoint, pointed at ts
//	// … run imdsd with --token-url=ep.TokenURL --data-url=ep.DataURL …
//	srv.SetFault(fakecloud.Fault{Mode: fakecloud.FaultStatus, Status: 503, Count: 3})
//	n := srv.RequestsByMethod("PUT", "/latest/api/token")
//
// Providers returns the table of emulated clouds: the vendor id as upstream's hwdb spells it,
// the DMI identity a VM should present, the IMDS addresses, the endpoint (token URL, headers,
// data URL and suffix), the well-known keys and the values a client gets at those keys.
//
// Faults (latency, N error statuses, token expiry, oversized and truncated bodies, connection
// resets, hangs) are set at run time through the Go API or, for the stead-fakecloud binary,
// through ControlHandler on a separate listener. Request counters per path and per method
// let tests assert how a client behaved (one token PUT, one fetch of a 404 key, …).
//
// See docs/fakecloud.md for the per-cloud paths, headers and status codes.
package fakecloud
