package imds

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Field is one row of the summary.
type Field struct {
	Label     string // as printed
	JSONName  string
	WellKnown string // wire name; "" for the vendor
	Value     string
	Present   bool
}

// SummaryFields are the rows of the summary in order.
func SummaryFields() []Field {
	return []Field{
		{Label: "Vendor", JSONName: "vendor"},
		{Label: "Hostname", JSONName: "hostname", WellKnown: "hostname"},
		{Label: "Region", JSONName: "region", WellKnown: "region"},
		{Label: "Zone", JSONName: "zone", WellKnown: "zone"},
		{Label: "Public IPv4 Address", JSONName: "ipv4Public", WellKnown: "ipv4_public"},
		{Label: "Public IPv6 Address", JSONName: "ipv6Public", WellKnown: "ipv6_public"},
	}
}

// FormatSummary renders the rows that are present: labels right-aligned to the longest
// label of all rows, then ": " and the value.
func FormatSummary(fields []Field) string {
	w := 0
	for _, f := range fields {
		w = max(w, len(f.Label))
	}
	var sb strings.Builder
	for _, f := range fields {
		if !f.Present {
			continue
		}
		fmt.Fprintf(&sb, "%*s: %s\n", w, f.Label, f.Value)
	}
	return sb.String()
}

func summary(ctx context.Context, c *conn, o *Options) error {
	fields := SummaryFields()
	vendor, err := c.vendor(ctx)
	if err != nil {
		return err
	}
	if vendor != "" {
		fields[0].Value, fields[0].Present = vendor, true
	}
	for i := range fields[1:] {
		f := &fields[i+1]
		b, err := c.get(ctx, f.WellKnown, "")
		if errors.Is(err, ErrAbsent) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", strings.ToLower(f.Label), err)
		}
		f.Value, f.Present = strings.TrimRight(string(b), "\n"), true
	}
	if o.json() {
		m := map[string]string{}
		for _, f := range fields {
			if f.Present {
				m[f.JSONName] = f.Value
			}
		}
		return o.writeJSON(m)
	}
	_, err = fmt.Fprint(o.Stdout, FormatSummary(fields))
	return err
}
