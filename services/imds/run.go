package imds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
	"unicode/utf8"

	api "github.com/stead-os/stead/lib/api/iosystemdinstancemetadata"
)

// Action is what Run does.
type Action int

const (
	Summary  Action = iota // no arguments: the summary table
	Lookup                 // -K NAME and/or KEY
	Userdata               // -u
	Import                 // --import
)

// Exit codes.
const (
	ExitOK            = 0
	ExitFailure       = 1
	ExitNotConfigured = 6 // systemd's EXIT_NOTCONFIGURED
)

// Options configures Run.
type Options struct {
	Action    Action
	Root      string
	WellKnown string // dashed or underscored name for Lookup; "" for none
	Key       string // KEY for Lookup; "" for none
	Refresh   time.Duration
	Cache     *bool
	JSON      string // "", "off", "short" or "pretty"
	ImdsdPath string
	Stdout    io.Writer // results: summaries, values
	Stderr    io.Writer // progress of --import, as upstream prints it (nil: discarded)
	Log       *slog.Logger
}

// progress is where --import reports what it stored: stderr, so stdout stays empty as
// upstream's does.
func (o *Options) progress() io.Writer {
	if o.Stderr == nil {
		return io.Discard
	}
	return o.Stderr
}

func (o *Options) log() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

func (o *Options) json() bool { return o.JSON == "short" || o.JSON == "pretty" }

func (o *Options) writeJSON(v any) error {
	var b []byte
	var err error
	if o.JSON == "pretty" {
		b, err = json.MarshalIndent(v, "", "    ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = o.Stdout.Write(append(b, '\n'))
	return err
}

// ExitError carries an exit code and a message for the user.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// Run does o.Action. A returned *ExitError names the exit status; other errors mean 1.
func Run(ctx context.Context, o Options) error {
	if o.Action == Lookup {
		if err := checkLookup(&o); err != nil {
			return err
		}
	}
	c, err := connect(ctx, &o)
	if err != nil {
		return err
	}
	defer c.close()
	if o.Refresh > 0 {
		c.refreshUS = o.Refresh.Microseconds()
	}
	c.cache = o.Cache
	switch o.Action {
	case Summary:
		err = summary(ctx, c, &o)
	case Lookup:
		err = lookup(ctx, c, &o)
	case Userdata:
		err = dumpUserdata(ctx, c, &o)
	case Import:
		err = runImport(ctx, c, &o)
	}
	var notSupported *api.NotSupported
	if errors.As(err, &notSupported) {
		// Upstream's tool fails with 1 here; --import uses NOTCONFIGURED so that
		// systemd-imds-import.service (SuccessExitStatus=NOTCONFIGURED) does not fail on
		// machines without a known metadata service.
		code := ExitFailure
		if o.Action == Import {
			code = ExitNotConfigured
		}
		return &ExitError{Code: code, Msg: "No instance metadata service is known on this machine (" + notSupported.Error() + ")."}
	}
	return err
}

// checkLookup validates -K/KEY and normalises the well-known name to its wire form.
func checkLookup(o *Options) error {
	if o.WellKnown == "" {
		if o.Key == "" {
			return errors.New("no key given")
		}
	} else {
		w, ok := WellKnownWire(o.WellKnown)
		if !ok {
			return fmt.Errorf("unknown well-known key %q", o.WellKnown)
		}
		if o.Key != "" && w != "base" && w != "userdata_base" {
			return fmt.Errorf("well-known key %q takes no key suffix", o.WellKnown)
		}
		o.WellKnown = w
	}
	if o.Key != "" && o.Key[0] != '/' {
		return fmt.Errorf("key %q does not start with '/'", o.Key)
	}
	return nil
}

func lookup(ctx context.Context, c *conn, o *Options) error {
	b, err := c.get(ctx, o.WellKnown, o.Key)
	if errors.Is(err, ErrAbsent) {
		return &ExitError{Code: ExitFailure, Msg: "Key not available."}
	}
	if err != nil {
		return err
	}
	return writeValue(o, b)
}

// writeValue writes raw bytes, or with --json an object holding the value as "text" (when
// valid UTF-8) or "data" (Base64).
func writeValue(o *Options, b []byte) error {
	if o.json() {
		if utf8.Valid(b) {
			return o.writeJSON(map[string]any{"text": string(b)})
		}
		return o.writeJSON(map[string]any{"data": b})
	}
	_, err := o.Stdout.Write(b)
	return err
}

func dumpUserdata(ctx context.Context, c *conn, o *Options) error {
	b, err := c.userdata(ctx)
	if err != nil {
		return err
	}
	if b == nil {
		return &ExitError{Code: ExitFailure, Msg: "No user data available."}
	}
	return writeValue(o, b)
}
