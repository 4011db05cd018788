package steadctl

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

// property is one NAME=VALUE line of `show`.
type property struct {
	name, value string
}

// properties renders u as systemctl show does: systemd's property names,
// booleans as yes/no, lists space-separated, timestamps in local time (n/a
// when unset) with a …Monotonic twin in µs.
func properties(u *iosystemdunit.Unit) []property {
	var ps []property
	add := func(name, value string) { ps = append(ps, property{name, value}) }
	stamp := func(name string, t *iosystemdunit.Timestamp) {
		if t == nil || t.Realtime == 0 {
			add(name, "n/a")
			add(name+"Monotonic", "0")
			return
		}
		add(name, formatTime(t.Time()))
		add(name+"Monotonic", strconv.FormatInt(t.Monotonic, 10))
	}
	list := func(name string, l []string) { add(name, strings.Join(l, " ")) }
	c, r := &u.Context, &u.Runtime

	if mr := r.Mount; mr != nil {
		add("Result", wireResult(mr.Result))
		add("ControlPID", strconv.FormatInt(pid(mr.ControlPID), 10))
	}
	if mc := c.Mount; mc != nil {
		add("What", mc.What)
		add("Where", mc.Where)
		add("Type", mc.Type)
		add("Options", mc.Options)
	}
	if s := r.Service; s != nil {
		add("Result", serviceResult(s))
		add("NRestarts", strconv.Itoa(s.NRestarts))
		add("NFileDescriptorStore", strconv.Itoa(s.NFileDescriptorStore))
		add("MainPID", strconv.FormatInt(pid(s.MainPID), 10))
		add("ControlPID", strconv.FormatInt(pid(s.ControlPID), 10))
		add("StatusText", s.StatusText)
		e := s.ExecMain
		if e == nil {
			e = &iosystemdunit.ExecCommandStatus{}
		}
		stamp("ExecMainStartTimestamp", e.StartTimestamp)
		stamp("ExecMainExitTimestamp", e.ExitTimestamp)
		add("ExecMainPID", strconv.FormatInt(e.PID.PID, 10))
		add("ExecMainCode", strconv.Itoa(deref(e.Code)))
		add("ExecMainStatus", strconv.Itoa(deref(e.Status)))
	}
	cg := ""
	if r.CGroup != nil {
		cg = r.CGroup.Path
	}
	add("ControlGroup", cg)
	if g := c.CGroup; g != nil {
		add("Slice", g.Slice)
		add("ManagedOOMSwap", g.ManagedOOMSwap)
		add("ManagedOOMMemoryPressure", g.ManagedOOMMemoryPressure)
		add("ManagedOOMMemoryPressureLimit", fractionPercent(uint64(deref(g.ManagedOOMMemoryPressureLimit))))
		dur := "infinity"
		if g.ManagedOOMMemoryPressureDurationUSec != nil {
			dur = formatSpan(time.Duration(*g.ManagedOOMMemoryPressureDurationUSec) * time.Microsecond)
		}
		add("ManagedOOMMemoryPressureDurationUSec", dur)
		add("ManagedOOMPreference", g.ManagedOOMPreference)
		list("OOMRules", g.OOMRules)
	}
	add("Id", c.ID)
	names := c.Names
	if len(names) == 0 {
		names = []string{c.ID}
	}
	list("Names", names)
	list("Requires", c.Requires)
	list("Requisite", c.Requisite)
	list("Wants", c.Wants)
	list("BindsTo", c.BindsTo)
	list("PartOf", c.PartOf)
	list("Conflicts", c.Conflicts)
	list("Before", c.Before)
	list("After", c.After)
	add("Description", description(u))
	add("LoadState", r.LoadState)
	add("ActiveState", r.ActiveState)
	add("SubState", r.SubState)
	add("FragmentPath", c.FragmentPath)
	list("DropInPaths", c.DropInPaths)
	stamp("StateChangeTimestamp", r.StateChangeTimestamp)
	stamp("InactiveExitTimestamp", r.InactiveExitTimestamp)
	stamp("ActiveEnterTimestamp", r.ActiveEnterTimestamp)
	stamp("ActiveExitTimestamp", r.ActiveExitTimestamp)
	stamp("InactiveEnterTimestamp", r.InactiveEnterTimestamp)
	for _, b := range []struct {
		name string
		v    bool
	}{{"CanStart", r.CanStart}, {"CanStop", r.CanStop}, {"CanReload", r.CanReload},
		{"ConditionResult", r.ConditionResult}, {"AssertResult", r.AssertResult}} {
		add(b.name, yesNo(b.v))
	}
	stamp("ConditionTimestamp", r.ConditionTimestamp)
	stamp("AssertTimestamp", r.AssertTimestamp)
	if r.JobId != nil {
		add("Job", strconv.Itoa(*r.JobId))
	}
	add("Transient", yesNo(c.Transient))
	add("DefaultDependencies", yesNo(c.DefaultDependencies))
	add("InvocationID", r.InvocationID)
	return ps
}

// fractionPercent renders a fraction of UINT32_MAX as a percentage with two
// decimals ("50.00%"), as oomd's limits are written.
func fractionPercent(f uint64) string {
	p := (f*10000 + math.MaxUint32/2) / math.MaxUint32 // in ‱
	return fmt.Sprintf("%d.%02d%%", p/100, p%100)
}

// showOptions selects what `show` prints.
type showOptions struct {
	props     []string // only these properties, in the order asked; none means all
	valueOnly bool     // print VALUE instead of NAME=VALUE
}

// selectProps applies o.props to ps.
func (o showOptions) selectProps(ps []property) []property {
	if len(o.props) == 0 {
		return ps
	}
	// As systemctl: in the order the properties come (not the order asked
	// for, which scripts reading several --value lines rely on), each once.
	want := map[string]bool{}
	for _, n := range o.props {
		want[n] = true
	}
	var out []property
	for _, p := range ps {
		if want[p.name] {
			out = append(out, p)
		}
	}
	return out
}

// writeShow prints ps as NAME=VALUE lines, or values only.
func writeShow(w io.Writer, ps []property, o showOptions) error {
	var b strings.Builder
	for _, p := range o.selectProps(ps) {
		if o.valueOnly {
			fmt.Fprintln(&b, p.value)
		} else {
			fmt.Fprintf(&b, "%s=%s\n", p.name, p.value)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// showJSON is the JSON form of show: property names to values.
func showJSON(ps []property, o showOptions) map[string]string {
	m := map[string]string{}
	for _, p := range o.selectProps(ps) {
		m[p.name] = p.value
	}
	return m
}
