package sysupdate

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stead-os/stead/lib/conf"
)

// Feature is one *.feature file (sysupdate.features(5)).
type Feature struct {
	ID            string
	Description   string
	Documentation []string
	AppStream     string
	Enabled       bool
	Suggested     bool // stead: no "suggested" source exists yet; always false
	Transfers     []string
}

var featureKeys = []string{"Description", "Documentation", "AppStream", "Enabled"}

// LoadFeatures reads the component's *.feature files with their drop-ins.
func (e *Env) LoadFeatures() ([]*Feature, error) {
	files, err := listFiles(e.confRoot(), e.DefinitionDirs(), ".feature")
	if err != nil {
		return nil, err
	}
	var fs []*Feature
	for _, p := range files {
		f, err := e.loadFile(p)
		if err != nil {
			return nil, err
		}
		ft := &Feature{ID: strings.TrimSuffix(path.Base(p), ".feature")}
		for _, s := range f.Sections() {
			if s.Name != "Feature" {
				e.warn(&conf.Error{File: s.File, Line: s.Line, Msg: "unknown section [" + s.Name + "], ignoring"})
				continue
			}
			for _, en := range s.Entries {
				if !slices.Contains(featureKeys, en.Key) {
					e.warn(located(en, "unknown key in [Feature], ignoring"))
				}
			}
		}
		ft.Description, _ = f.Get("Feature", "Description")
		for _, v := range f.Values("Feature", "Documentation") {
			ft.Documentation = append(ft.Documentation, strings.Fields(v)...)
		}
		ft.AppStream, _ = f.Get("Feature", "AppStream")
		if en, ok := f.Lookup("Feature", "Enabled"); ok && en.Value != "" {
			b, err := conf.Bool(en)
			if err != nil {
				e.warn(err)
			}
			ft.Enabled = b
		}
		fs = append(fs, ft)
	}
	return fs, nil
}

// transferEnabled applies Features= (any one enabled) and RequisiteFeatures= (all enabled);
// an unknown feature name is a disabled feature.
func transferEnabled(t *Transfer, features []*Feature) bool {
	on := func(id string) bool {
		i := slices.IndexFunc(features, func(f *Feature) bool { return f.ID == id })
		return i >= 0 && features[i].Enabled
	}
	if len(t.Features) > 0 && !slices.ContainsFunc(t.Features, on) {
		return false
	}
	for _, id := range t.RequisiteFeatures {
		if !on(id) {
			return false
		}
	}
	return true
}

// featureDropin is the drop-in enable-feature and disable-feature write, as upstream names it.
const featureDropin = "50-systemd-sysupdate-enabled.conf"

// setFeatures writes, for each named feature in order, the drop-in
// /etc/sysupdate[.COMPONENT].d/FEATURE.feature.d/50-systemd-sysupdate-enabled.conf with
// Enabled=yes or no, as upstream's enable-feature and disable-feature do (with --definitions=
// the drop-in goes below that directory instead). A feature that does not exist stops the
// run there, as upstream: the drop-ins written before it stay.
func setFeatures(o Options, c *Context, enable bool) error {
	if len(o.Args) == 0 {
		return fmt.Errorf("%s needs at least one FEATURE", o.Verb)
	}
	dir := c.Env.hostPath(path.Join("/etc", path.Base(c.Env.DefinitionDirs()[0])))
	if c.Env.Definitions != "" {
		dir = c.Env.Definitions
	}
	word := map[bool]string{true: "yes", false: "no"}[enable]
	done := map[bool]string{true: "enabled", false: "disabled"}[enable]
	for _, id := range o.Args {
		if !slices.ContainsFunc(c.Features, func(f *Feature) bool { return f.ID == id }) {
			comp := "<default>"
			if o.Component != "" {
				comp = o.Component
			}
			return fmt.Errorf("Optional feature not found in component '%s': %s", comp, id)
		}
		content := "# Generated via 'systemd-sysupdate " + o.Verb + "'\n\n[Feature]\nEnabled=" + word + "\n"
		if err := writeConfig(filepath.Join(dir, id+".feature.d", featureDropin), content); err != nil {
			return err
		}
		o.Log.Info(fmt.Sprintf("Feature '%s' %s.", id, done))
	}
	return nil
}

// writeConfig replaces p (mode 0644, its directories created 0755) atomically and durably.
func writeConfig(p, content string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(p), tempPrefix+filepath.Base(p))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(p))
}
