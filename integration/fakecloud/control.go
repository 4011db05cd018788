package fakecloud

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ControlHandler returns the HTTP API that drives the Server from outside the process (the
// stead-fakecloud binary serves it on its --control listener, never on the metadata one):
//
//	POST   /_fault?mode=M[&path=P][&method=X][&count=N][&status=S][&delay=D][&size=B][&add=1]
//	                         set a fault (replacing the standing ones unless add=1);
//	                         mode=none clears; mode=expire-tokens expires all tokens now
//	DELETE /_fault           clear all faults
//	GET    /_fault           the standing faults (JSON)
//	GET    /_requests        {"total": N, "counts": {"GET /path": n, …}}; ?path=P[&method=X]
//	                         answers {"count": n} for one path
//	DELETE /_requests        reset the counters and the log
//	GET    /_log             the request log (JSON)
//	GET    /_provider        the provider's table entry, Expected for the current instance
//	GET    /_instance        the instance (JSON, user_data base64)
//	POST   /_instance        merge the JSON body into the instance
//	PUT    /_userdata        replace the user data with the body; DELETE removes it
//
// Errors are 400 with a text body.
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_fault", s.ctlSetFault)
	mux.HandleFunc("DELETE /_fault", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		writeJSON(w, s.Faults())
	})
	mux.HandleFunc("GET /_fault", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Faults()) })
	mux.HandleFunc("GET /_requests", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("path") {
			n := s.Requests(q.Get("path"))
			if q.Has("method") {
				n = s.RequestsByMethod(q.Get("method"), q.Get("path"))
			}
			writeJSON(w, map[string]int{"count": n})
			return
		}
		writeJSON(w, map[string]any{"total": s.TotalRequests(), "counts": s.RequestCounts()})
	})
	mux.HandleFunc("DELETE /_requests", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRequests()
		writeJSON(w, map[string]int{"total": 0})
	})
	mux.HandleFunc("GET /_log", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.RequestLog()) })
	mux.HandleFunc("GET /_provider", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Info()) })
	mux.HandleFunc("GET /_instance", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Instance()) })
	mux.HandleFunc("POST /_instance", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in := s.Instance()
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, "bad instance JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.UpdateInstance(func(cur *Instance) { *cur = in })
		writeJSON(w, in)
	})
	mux.HandleFunc("PUT /_userdata", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if body == nil {
			body = []byte{}
		}
		s.UpdateInstance(func(in *Instance) { in.UserData = body })
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_userdata", func(w http.ResponseWriter, r *http.Request) {
		s.UpdateInstance(func(in *Instance) { in.UserData = nil })
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func (s *Server) ctlSetFault(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFault(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if add := r.URL.Query().Get("add"); add == "1" || add == "true" {
		err = s.AddFault(f)
	} else {
		err = s.SetFault(f)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, s.Faults())
}

// ParseFault reads a Fault from query parameters: mode, path, method, count, status,
// delay (a Go duration such as "1.5s", or plain milliseconds), size (bytes).
func ParseFault(q url.Values) (Fault, error) {
	f := Fault{Mode: FaultMode(q.Get("mode")), Path: q.Get("path"), Method: q.Get("method")}
	var err error
	atoi := func(name string) int {
		v := q.Get(name)
		if v == "" || err != nil {
			return 0
		}
		n, e := strconv.Atoi(v)
		if e != nil {
			err = fmt.Errorf("fakecloud: bad %s %q", name, v)
		}
		return n
	}
	f.Count = atoi("count")
	f.Status = atoi("status")
	if v := q.Get("size"); v != "" && err == nil {
		if f.Size, err = strconv.ParseInt(v, 10, 64); err != nil {
			err = fmt.Errorf("fakecloud: bad size %q", v)
		}
	}
	if v := q.Get("delay"); v != "" && err == nil {
		if ms, e := strconv.Atoi(v); e == nil {
			f.Delay = time.Duration(ms) * time.Millisecond
		} else if f.Delay, e = time.ParseDuration(v); e != nil {
			err = fmt.Errorf("fakecloud: bad delay %q", v)
		}
	}
	if err != nil {
		return Fault{}, err
	}
	if f.Mode == "" {
		return Fault{}, fmt.Errorf("fakecloud: mode is required (one of none, %v)", FaultModes())
	}
	if f.Mode != "none" {
		if err := f.normalize(); err != nil {
			return Fault{}, err
		}
	}
	return f, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}
