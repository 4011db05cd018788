// Command stead-fakecloud serves a fake cloud instance-metadata service (integration/fakecloud)
// on the addresses it is given, for stead's VM and interop tests and the demo. It listens
// only where --listen says: loopback, or an address inside a network namespace the caller
// set up. Each bound address is printed to stdout ("listen ADDR", "control ADDR") so that
// callers may pass port 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stead-os/stead/integration/fakecloud"
	"github.com/stead-os/stead/lib/daemon"
	steadlog "github.com/stead-os/stead/lib/log"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var listen listFlag
	flag.Var(&listen, "listen", "serve metadata on `ADDR:PORT` (repeatable; required)")
	provider := flag.String("provider", "", "cloud to emulate (see --list)")
	control := flag.String("control", "", "serve the control API on `ADDR:PORT` (a separate listener)")
	fields := map[string]*string{
		"hostname":    flag.String("hostname", "", "instance hostname (default <provider>-test-host)"),
		"region":      flag.String("region", "", "instance region"),
		"zone":        flag.String("zone", "", "instance zone"),
		"public-ipv4": flag.String("public-ipv4", "", "public IPv4 address (empty: none)"),
		"public-ipv6": flag.String("public-ipv6", "", "public IPv6 address (empty: none)"),
		"ssh-key":     flag.String("ssh-key", "", "OpenSSH public key line (empty: none)"),
	}
	userDataFile := flag.String("user-data-file", "", "serve this file as user data (- for stdin)")
	noUserData := flag.Bool("no-user-data", false, "serve no user data")
	tokensOptional := flag.Bool("tokens-optional", false, "accept data requests without a token (IMDSv1)")
	privileged := flag.Bool("privileged-port-check", false, "serve user data only to source ports < 1024 (default: as the cloud does; turn off behind socat)")
	latency := flag.Duration("latency", 0, "delay every answer by this much")
	list := flag.Bool("list", false, "list the providers and exit")
	listJSON := flag.Bool("list-json", false, "print the provider table as JSON and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: stead-fakecloud --provider=NAME --listen=ADDR:PORT [--control=ADDR:PORT] [options]

Serves one cloud's instance metadata (URL layout, headers, tokens) for tests.
Control API on --control: POST /_fault?mode=MODE&…, DELETE /_fault, GET /_requests,
GET /_log, GET /_provider, POST /_instance, PUT /_userdata (see docs/fakecloud.md).
Fault modes: %s.

`, modes())
		flag.PrintDefaults()
	}
	flag.Parse()

	switch {
	case *listJSON:
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(fakecloud.Providers())
		return
	case *list:
		tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "VENDOR\tUPSTREAM\tADDRESSES\tDATA URL")
		for _, p := range fakecloud.Providers() {
			var addrs []string
			for _, a := range append(p.IPv4, p.IPv6...) {
				addrs = append(addrs, a.String())
			}
			fmt.Fprintf(tw, "%s\t%v\t%s\t%s%s\n", p.Vendor, p.Upstream, strings.Join(addrs, ","), p.Endpoint.DataURL, p.Endpoint.DataURLSuffix)
		}
		tw.Flush()
		return
	}
	if *provider == "" || len(listen) == 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}

	logger := steadlog.Setup("stead-fakecloud")
	opts := []fakecloud.Option{fakecloud.WithLogger(logger), fakecloud.WithTokensOptional(*tokensOptional)}
	var userData []byte
	if *userDataFile != "" {
		var err error
		if *userDataFile == "-" {
			userData, err = io.ReadAll(os.Stdin)
		} else {
			userData, err = os.ReadFile(*userDataFile)
		}
		if err != nil {
			fail(err)
		}
		if userData == nil {
			userData = []byte{}
		}
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["privileged-port-check"] {
		opts = append(opts, fakecloud.WithPrivilegedPortCheck(*privileged))
	}
	opts = append(opts, fakecloud.WithInstance(func(in *fakecloud.Instance) {
		for name, field := range map[string]*string{"hostname": &in.Hostname, "region": &in.Region,
			"zone": &in.Zone, "public-ipv4": &in.PublicIPv4, "public-ipv6": &in.PublicIPv6, "ssh-key": &in.SSHKey} {
			if set[name] { // given, even empty: an empty value removes the key
				*field = *fields[name]
			}
		}
		if userData != nil {
			in.UserData = userData
		}
		if *noUserData {
			in.UserData = nil
		}
	}))
	srv, err := fakecloud.New(*provider, opts...)
	if err != nil {
		fail(err)
	}
	if *latency > 0 {
		if err := srv.SetFault(fakecloud.Fault{Mode: fakecloud.FaultLatency, Delay: *latency}); err != nil {
			fail(err)
		}
	}

	errs := make(chan error, len(listen)+1)
	for _, addr := range listen {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fail(err)
		}
		fmt.Printf("listen %s\n", l.Addr())
		logger.Info("serving metadata", "provider", *provider, "address", l.Addr().String())
		go func() { errs <- srv.Serve(l) }()
	}
	var ctl *http.Server
	if *control != "" {
		l, err := net.Listen("tcp", *control)
		if err != nil {
			fail(err)
		}
		fmt.Printf("control %s\n", l.Addr())
		logger.Info("serving control API", "address", l.Addr().String())
		ctl = &http.Server{Handler: srv.ControlHandler(), ReadHeaderTimeout: 30 * time.Second}
		go func() { errs <- ctl.Serve(l) }()
	}

	ctx, stop := daemon.StopContext(context.Background())
	defer stop()
	select {
	case <-ctx.Done():
		logger.Info("stopping")
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serving failed", "err", err)
			srv.Close()
			os.Exit(1)
		}
	}
	srv.Close()
	if ctl != nil {
		ctl.Close()
	}
}

func modes() string {
	var m []string
	for _, f := range fakecloud.FaultModes() {
		m = append(m, string(f))
	}
	return strings.Join(m, ", ")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "stead-fakecloud:", err)
	os.Exit(1)
}
