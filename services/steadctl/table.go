package steadctl

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

// listFilter selects the units list-units shows.
type listFilter struct {
	all      bool     // include inactive units
	patterns []string // shell globs on the unit name; none matches all
}

// match reports whether list-units shows u: by default units that are not
// inactive or have a job; with all, every unit the manager has loaded.
func (f listFilter) match(u *iosystemdunit.Unit) bool {
	if len(f.patterns) > 0 {
		ok := false
		for _, p := range f.patterns {
			if !strings.ContainsAny(p, "*?[") {
				p = mangle([]string{p})[0] // as systemctl: "sshd" lists sshd.service
			}
			if m, _ := path.Match(p, u.Context.ID); m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.all {
		return true
	}
	r := u.Runtime
	return r.ActiveState != "inactive" || r.JobId != nil
}

// listRow is one line of list-units; its JSON keys are systemctl's.
type listRow struct {
	Unit        string `json:"unit"`
	Load        string `json:"load"`
	Active      string `json:"active"`
	Sub         string `json:"sub"`
	Description string `json:"description"`
}

// listRows filters and sorts units for list-units.
func listRows(units []iosystemdunit.Unit, f listFilter) []listRow {
	var rows []listRow
	for i := range units {
		u := &units[i]
		if !f.match(u) {
			continue
		}
		rows = append(rows, listRow{Unit: u.Context.ID, Load: u.Runtime.LoadState, Active: u.Runtime.ActiveState,
			Sub: u.Runtime.SubState, Description: description(u)})
	}
	sort.Slice(rows, func(a, b int) bool { return rows[a].Unit < rows[b].Unit })
	return rows
}

// writeTable prints rows as list-units does: a header, one line per unit
// (failed or unloaded units marked with ●), and unless legend is false a
// legend and a count.
func writeTable(w io.Writer, rows []listRow, legend, all bool) error {
	header := listRow{Unit: "UNIT", Load: "LOAD", Active: "ACTIVE", Sub: "SUB", Description: "DESCRIPTION"}
	widths := [4]int{}
	for _, r := range append([]listRow{header}, rows...) {
		for i, s := range []string{r.Unit, r.Load, r.Active, r.Sub} {
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	line := func(mark string, r listRow) string {
		cols := []string{pad(r.Unit, widths[0]), pad(r.Load, widths[1]), pad(r.Active, widths[2]), pad(r.Sub, widths[3]), r.Description}
		return strings.TrimRight(mark+strings.Join(cols, " "), " ") + "\n"
	}
	var b strings.Builder
	if legend {
		b.WriteString(line("  ", header))
	}
	for _, r := range rows {
		mark := "  "
		if r.Active == "failed" || r.Load != "loaded" {
			mark = "● "
		}
		b.WriteString(line(mark, r))
	}
	if legend {
		b.WriteString("\nLOAD   = whether the unit file was found and parsed\n")
		b.WriteString("ACTIVE = the unit's general state: active, inactive, failed, activating, …\n")
		b.WriteString("SUB    = its state in more detail, depending on the unit type\n\n")
		fmt.Fprintf(&b, "%d units listed.", len(rows))
		if !all {
			b.WriteString(" Pass --all to include inactive units.")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeColumns writes rows as columns padded to their widest cell, separated by one space,
// without trailing blanks.
func writeColumns(b *strings.Builder, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		for i, c := range r {
			r[i] = pad(c, widths[i])
		}
		b.WriteString(strings.TrimRight(strings.Join(r, " "), " ") + "\n")
	}
}

func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-utf8.RuneCountInString(s)))
}

// writeJSON prints v as JSON, indented when pretty.
func writeJSON(w io.Writer, v any, pretty bool) error {
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// writeJobs prints the job queue as list-jobs does: JOB UNIT TYPE STATE,
// then the count (or "No jobs running.").
func writeJobs(w io.Writer, jobs []queuedJob, legend bool) error {
	var b strings.Builder
	if len(jobs) == 0 {
		if legend {
			b.WriteString("No jobs running.\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	rows := [][]string{{"JOB", "UNIT", "TYPE", "STATE"}}
	for _, j := range jobs {
		rows = append(rows, []string{strconv.FormatInt(j.ID, 10), j.Unit, j.JobType, j.State})
	}
	if !legend {
		rows = rows[1:]
	}
	writeColumns(&b, rows)
	if legend {
		fmt.Fprintf(&b, "\n%d jobs listed.\n", len(jobs))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
