package imdsd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// scenario is one Get run by the netns client.
type scenario struct {
	Name   string    `json:"name"`
	Params GetParams `json:"params"`
	// Iface, if set, is resolved to Params.Interface inside the namespace.
	Iface string `json:"iface,omitempty"`
}

type outcome struct {
	Name  string `json:"name"`
	Data  string `json:"data"`
	Iface string `json:"iface"`
	Err   string `json:"err"`
}

// roleNetnsClient runs inside the client namespace: it builds a real Service (interface
// discovery, netlink, SO_BINDTODEVICE, SO_MARK) for $IMDS_TEST_DATA_URL, runs the scenarios of
// $IMDS_TEST_SCENARIOS and prints the outcomes as JSON.
func roleNetnsClient() int {
	var scenarios []scenario
	if err := json.Unmarshal([]byte(os.Getenv("IMDS_TEST_SCENARIOS")), &scenarios); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("SYSTEMD_PROC_CMDLINE", "")
	o := Options{
		Root:       os.Getenv("IMDS_TEST_ROOT"),
		RuntimeDir: os.Getenv("IMDS_TEST_ROOT") + "/run",
		Getenv:     noEnv,
		Log:        testLogger(),
		Timing: Timing{Timeout: 1500 * time.Millisecond, TimeoutScan: 10 * time.Second,
			RetryInitial: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, Retries: 3},
	}
	o.Endpoint.Set("data_url", os.Getenv("IMDS_TEST_DATA_URL"))
	o.Endpoint.Set("token_url", os.Getenv("IMDS_TEST_DATA_URL")+"/token")
	o.Endpoint.Set("token_header_name", "X-Tok")
	s, err := New(o, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var out []outcome
	for _, sc := range scenarios {
		if sc.Iface != "" {
			ifc, err := net.InterfaceByName(sc.Iface)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			sc.Params.Interface = ptr(int64(ifc.Index))
		}
		data, idx, err := s.Get(context.Background(), sc.Params)
		oc := outcome{Name: sc.Name, Data: string(data)}
		if err != nil {
			oc.Err = err.Error()
		}
		if ifc, e := net.InterfaceByIndex(idx); e == nil && idx > 0 {
			oc.Iface = ifc.Name
		}
		out = append(out, oc)
	}
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// roleNetnsServer runs inside the server namespace: a metadata server on $IMDS_TEST_LISTEN that
// reports the client's source port under /port. It prints "ready" once listening and exits
// when its stdin closes.
func roleNetnsServer() int {
	l, err := net.Listen("tcp", os.Getenv("IMDS_TEST_LISTEN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /token", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tok") })
	mux.HandleFunc("GET /hostname", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Tok") != "tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "piff")
	})
	mux.HandleFunc("GET /addr", func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		io.WriteString(w, host)
	})
	mux.HandleFunc("GET /port", func(w http.ResponseWriter, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.RemoteAddr)
		io.WriteString(w, port)
	})
	go http.Serve(l, mux)
	fmt.Println("ready")
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return 0
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
