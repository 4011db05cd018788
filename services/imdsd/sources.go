package imdsd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stead-os/stead/lib/creds"
	"github.com/stead-os/stead/lib/dmi"
	"github.com/stead-os/stead/lib/hwdb"
	"github.com/stead-os/stead/lib/kcmdline"
)

// maxExtraHeaders is how many numbered extra headers the environment, credentials and hwdb
// may carry (the first unnumbered, then 2 … 63).
const maxExtraHeaders = 63

// numbered returns the name of the n-th (1-based) of a numbered series: base, base2, base3…
func numbered(base string, n int) string {
	if n == 1 {
		return base
	}
	return base + strconv.Itoa(n)
}

// envLayer reads SYSTEMD_IMDS_*. Empty variables count as unset. Numbered extra headers
// stop at the first missing number. Errors are fatal: the caller set the variables.
func envLayer(getenv func(string) (string, bool)) (Layer, error) {
	l := Layer{Source: "environment"}
	var errs []error
	get := func(name string) (string, bool) {
		v, ok := getenv("SYSTEMD_IMDS_" + name)
		return v, ok && v != ""
	}
	for f := field(0); f < numFields; f++ {
		name := strings.ToUpper(fieldNames[f])
		if f == fExtraHeader {
			for n := 1; n <= maxExtraHeaders; n++ {
				v, ok := get(numbered(name, n))
				if !ok {
					break
				}
				errs = append(errs, l.setField(f, v))
			}
			continue
		}
		if v, ok := get(name); ok {
			errs = append(errs, l.setField(f, v))
		}
	}
	for w := Hostname; w < numWellKnown; w++ {
		if v, ok := get("KEY_" + strings.ToUpper(w.String())); ok {
			errs = append(errs, l.SetKey(w, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Layer{}, fmt.Errorf("environment: %w", err)
	}
	return l, nil
}

// kernelLayer reads systemd.imds.* from the kernel command line; systemd.imds.network= is
// returned apart (it applies whichever source provides the endpoint). A bad item is reported
// and skipped.
func kernelLayer(params []kcmdline.Param) (l Layer, mode NetworkMode, warnings []error) {
	l = Layer{Source: "kernel command line"}
	for _, p := range params {
		rest, ok := kcmdline.CutPrefix(p.Key, "systemd.imds.")
		if !ok {
			continue
		}
		name, isKey := kcmdline.CutPrefix(rest, "key.")
		isNetwork := kcmdline.KeyEqual(rest, "network")
		if !isKey && !isNetwork && !isField(rest) {
			continue // not an endpoint setting (e.g. systemd.imds.import=, the generator's)
		}
		if !p.HasValue {
			warnings = append(warnings, fmt.Errorf("kernel command line: %s without a value, ignoring", p.Key))
			continue
		}
		var err error
		switch {
		case isKey:
			var w WellKnown
			if w, err = ParseWellKnown(strings.ReplaceAll(name, "-", "_"), false); err == nil && w != Base {
				err = l.SetKey(w, p.Value)
			} else {
				err = fmt.Errorf("unknown well-known key %q", name)
			}
		case isNetwork:
			mode, err = ParseNetworkMode(p.Value)
		default:
			err = l.Set(rest, p.Value)
		}
		if err != nil {
			warnings = append(warnings, fmt.Errorf("kernel command line: %s=%s: %w, ignoring", p.Key, p.Value, err))
		}
	}
	return l, mode, warnings
}

// isField reports whether name (with '-' or '_') is an endpoint field.
func isField(name string) bool {
	name = strings.ReplaceAll(name, "-", "_")
	for _, n := range fieldNames {
		if n == name {
			return true
		}
	}
	return false
}

// credLayer reads the imds.* credentials. A single trailing newline is dropped from each. The
// token URL is read from imds.token_url, or from imds.vendor_token as upstream names it.
func credLayer(read func(name string) (string, bool, error)) (l Layer, warnings []error) {
	l = Layer{Source: "credentials"}
	get := func(name string) (string, bool) {
		v, ok, err := read("imds." + name)
		if err != nil {
			warnings = append(warnings, fmt.Errorf("credential imds.%s: %w", name, err))
			return "", false
		}
		return strings.TrimSuffix(v, "\n"), ok
	}
	set := func(f field, name string) {
		if v, ok := get(name); ok {
			if err := l.setField(f, v); err != nil {
				warnings = append(warnings, fmt.Errorf("credential imds.%s: %w, ignoring", name, err))
			}
		}
	}
	for f := field(0); f < numFields; f++ {
		switch f {
		case fTokenURL:
			set(f, "vendor_token")
			set(f, "token_url")
		case fExtraHeader:
			for n := 1; n <= maxExtraHeaders; n++ {
				set(f, numbered(fieldNames[f], n))
			}
		default:
			set(f, fieldNames[f])
		}
	}
	for w := Hostname; w < numWellKnown; w++ {
		name := "key_" + w.String()
		if v, ok := get(name); ok {
			if err := l.SetKey(w, v); err != nil {
				warnings = append(warnings, fmt.Errorf("credential imds.%s: %w, ignoring", name, err))
			}
		}
	}
	return l, warnings
}

// hwdbLayer turns IMDS_* hwdb properties into a layer. Without IMDS_VENDOR the machine is not
// a known cloud and the layer stays empty.
func hwdbLayer(props map[string]string) (l Layer, warnings []error) {
	l = Layer{Source: "hwdb"}
	if props["IMDS_VENDOR"] == "" {
		return l, nil
	}
	set := func(apply func(string) error, prop string) {
		v, ok := props[prop]
		if !ok {
			return
		}
		if err := apply(v); err != nil {
			warnings = append(warnings, fmt.Errorf("hwdb %s: %w, ignoring", prop, err))
		}
	}
	for f := field(0); f < numFields; f++ {
		name := "IMDS_" + strings.ToUpper(fieldNames[f])
		apply := func(v string) error { return l.setField(f, v) }
		if f == fExtraHeader {
			for n := 1; n <= maxExtraHeaders; n++ {
				set(apply, numbered(name, n))
			}
			continue
		}
		set(apply, name)
	}
	for w := Hostname; w < numWellKnown; w++ {
		set(func(v string) error { return l.SetKey(w, v) }, "IMDS_KEY_"+strings.ToUpper(w.String()))
	}
	return l, warnings
}

// hwdbProperties looks the machine's DMI modalias (with the chassis asset tag) up in the hwdb
// files under root, plus the directories of extraDirs.
func hwdbProperties(root string, extraDirs ...string) (map[string]string, []error) {
	info, err := dmi.Read(root)
	if err != nil {
		return nil, []error{err}
	}
	db, errs := hwdb.Load(root, extraDirs...)
	if db == nil {
		return nil, errs
	}
	return db.Query(info.Modalias()), errs
}

// credRead reads one credential through lib/creds.
func credRead(name string) (string, bool, error) { return creds.ReadString(name) }
