// Package iosystemdmetrics holds io.systemd.Metrics, systemd 262's interface through which a
// service reports metrics (imds serves it on /run/systemd/report/io.systemd.InstanceMetadata):
// its IDL (with stead's comments), the reply types and a dispatcher. It is written by hand,
// like lib/api/iosystemdunit: both methods stream their replies, which the implementation
// sends through the call (varlinkd.ReplyList).
package iosystemdmetrics

import (
	"context"
	_ "embed"

	"github.com/varlink/go/varlink"
)

// Name is the interface name.
const Name = "io.systemd.Metrics"

// ErrorNoSuchMetric is the error for a service with nothing to report.
const ErrorNoSuchMetric = Name + ".NoSuchMetric"

//go:embed io.systemd.Metrics.varlink
var description string

// FamilyType is MetricFamilyType.
type FamilyType string

// The family types.
const (
	Counter FamilyType = "counter"
	Gauge   FamilyType = "gauge"
	String  FamilyType = "string"
	Object  FamilyType = "object"
)

// Family is one Describe reply.
type Family struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Type        FamilyType `json:"type"`
}

// Metric is one List reply.
type Metric struct {
	Name   string         `json:"name"`
	Object *string        `json:"object,omitempty"`
	Fields map[string]any `json:"fields,omitempty"`
	Value  any            `json:"value"`
}

// Metrics is what a service implements; each method replies through c (the varlinkd
// dispatcher has checked the parameters and the `more` flag).
type Metrics interface {
	List(ctx context.Context, c *varlink.Call) error
	Describe(ctx context.Context, c *varlink.Call) error
}

// Dispatcher serves io.systemd.Metrics for a Metrics.
type Dispatcher struct{ M Metrics }

// VarlinkNew returns the dispatcher.
func VarlinkNew(m Metrics) Dispatcher { return Dispatcher{m} }

// VarlinkDispatch calls the implementation of method.
func (d Dispatcher) VarlinkDispatch(ctx context.Context, call varlink.Call, method string) error {
	c := &call
	switch method {
	case "List":
		return d.M.List(ctx, c)
	case "Describe":
		return d.M.Describe(ctx, c)
	}
	return c.ReplyMethodNotFound(ctx, Name+"."+method)
}

// VarlinkGetName returns the interface name.
func (Dispatcher) VarlinkGetName() string { return Name }

// VarlinkGetDescription returns the IDL text.
func (Dispatcher) VarlinkGetDescription() string { return description }
