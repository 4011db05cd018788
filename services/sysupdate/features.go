package sysupdate

import (
	"path"
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
