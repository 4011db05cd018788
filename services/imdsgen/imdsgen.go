// Package imdsgen is the logic of imds-generator, stead's systemd-imds-generator: at boot it
// decides from the kernel command line, container detection and the DMI/hwdb identity of the
// machine whether the cloud metadata units are pulled in. See docs/imds-generator.md.
package imdsgen

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/dmi"
	"github.com/stead-os/stead/lib/hwdb"
	"github.com/stead-os/stead/lib/kcmdline"
)

// Units the generator pulls in.
const (
	EarlyNetworkUnit = "systemd-imds-early-network.service"
	SocketUnit       = "systemd-imdsd.socket"
	MetricsUnit      = "systemd-imds-metrics.socket"
	ImportUnit       = "systemd-imds-import.service"
	ServiceUnit      = "systemd-imdsd.service"
	DefaultUnitDir   = "/usr/lib/systemd/system"
	dmiDropIn        = "50-dmi-id.conf"
)

// Options configures Run.
type Options struct {
	Root string // "" or "/" for the host
	// Dir is where the .wants links and drop-ins go: the generator's early directory
	// (argv[2]), as upstream does.
	Dir     string
	UnitDir string // where the linked units live; DefaultUnitDir if empty
	Log     *slog.Logger
}

// Decision is what Decide found.
type Decision struct {
	Enabled bool
	Import  bool
	Network string // "", "off", "locked" or "unlocked" ("" = the daemon's default)
	Reason  string
	Vendor  string
}

// Link is one symlink the generator creates: Dir/Target.wants/Unit → UnitDir/Unit.
type Link struct{ Target, Unit string }

// Links lists what d pulls in.
func (d Decision) Links() []Link {
	if !d.Enabled {
		return nil
	}
	var l []Link
	if d.Network != "off" {
		l = append(l, Link{"sysinit.target", EarlyNetworkUnit})
	}
	l = append(l, Link{"sockets.target", SocketUnit}, Link{"sockets.target", MetricsUnit})
	if d.Import {
		l = append(l, Link{"sysinit.target", ImportUnit})
	}
	return l
}

func under(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	return filepath.Join(root, p)
}

// Decide reads the kernel command line, container state, DMI and hwdb under root.
// Problems with single inputs are logged and treated like upstream does (bad values are
// ignored, missing DMI means no cloud).
func Decide(root string, log *slog.Logger) Decision {
	var d Decision
	enabled := -1 // auto
	params, err := kcmdline.Load(root)
	if err != nil {
		log.Warn("cannot read the kernel command line", "err", err)
	}
	params = kcmdline.ForStage(params, kcmdline.InInitrd(root))
	// Each assignment is applied in order, so the last valid one wins; invalid ones and bare
	// switches are reported and ignored, as upstream does.
	for _, p := range params {
		switch {
		case kcmdline.KeyEqual(p.Key, "systemd.imds"):
			switch {
			case !p.HasValue:
				log.Warn("ignoring systemd.imds without a value")
			case p.Value == "auto":
				enabled = -1
			default:
				if b, err := conf.ParseBool(p.Value); err != nil {
					log.Warn("ignoring invalid systemd.imds= value", "value", p.Value)
				} else if b {
					enabled = 1
				} else {
					enabled = 0
				}
			}
		case kcmdline.KeyEqual(p.Key, "systemd.imds.import"):
			if !p.HasValue {
				log.Warn("ignoring systemd.imds.import without a value")
			} else if b, err := conf.ParseBool(p.Value); err != nil {
				log.Warn("ignoring invalid systemd.imds.import= value", "value", p.Value)
			} else {
				d.Import = b
			}
		case kcmdline.KeyEqual(p.Key, "systemd.imds.network"):
			switch p.Value {
			case "off", "locked", "unlocked":
				d.Network = p.Value
			default:
				log.Warn("ignoring invalid systemd.imds.network= value", "value", p.Value)
			}
		}
	}
	switch enabled {
	case 0:
		d.Reason = "disabled on the kernel command line"
		return d
	case 1:
		d.Enabled, d.Reason = true, "enabled on the kernel command line"
		return d
	}
	if c := Container(root); c != "" {
		d.Reason = "running in a container (" + c + ")"
		return d
	}
	info, err := dmi.Read(root)
	if err != nil {
		d.Reason = "no DMI information"
		return d
	}
	modalias := info.Modalias()
	if modalias == "" {
		d.Reason = "no DMI modalias"
		return d
	}
	db, errs := hwdb.Load(root)
	for _, e := range errs {
		log.Debug("hwdb", "err", e)
	}
	if db == nil {
		d.Reason = "no hwdb"
		return d
	}
	d.Vendor = db.Query(modalias)["IMDS_VENDOR"]
	if d.Vendor == "" {
		d.Reason = "no IMDS_VENDOR for " + modalias
		return d
	}
	d.Enabled, d.Reason = true, "cloud "+d.Vendor+" detected"
	return d
}

// Container returns the container manager's name when root runs in a container, like
// systemd detects it: /run/systemd/container, else container= in PID 1's environment.
func Container(root string) string {
	if b, err := os.ReadFile(under(root, "/run/systemd/container")); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
	}
	if b, err := os.ReadFile(under(root, "/proc/1/environ")); err == nil {
		for _, kv := range bytes.Split(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok && len(v) > 0 {
				return string(v)
			}
		}
	}
	return ""
}

const dropInText = `# Generated by imds-generator (stead)

[Unit]
Wants=sys-devices-virtual-dmi-id.device
After=sys-devices-virtual-dmi-id.device
`

// Run decides and writes the links and drop-ins into o.Dir.
func Run(o Options) (Decision, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.UnitDir == "" {
		o.UnitDir = DefaultUnitDir
	}
	d := Decide(o.Root, o.Log)
	if !d.Enabled {
		o.Log.Info("cloud metadata units not pulled in: " + d.Reason)
		return d, nil
	}
	o.Log.Info("cloud metadata units pulled in: " + d.Reason)
	var errs []error
	for _, l := range d.Links() {
		dir := filepath.Join(o.Dir, l.Target+".wants")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		err := os.Symlink(filepath.Join(o.UnitDir, l.Unit), filepath.Join(dir, l.Unit))
		if err != nil && !errors.Is(err, fs.ErrExist) {
			errs = append(errs, fmt.Errorf("pull in %s: %w", l.Unit, err))
		}
	}
	dropins := []string{ServiceUnit}
	if d.Network != "off" {
		dropins = append(dropins, EarlyNetworkUnit)
	}
	for _, u := range dropins {
		dir := filepath.Join(o.Dir, u+".d")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, dmiDropIn), []byte(dropInText), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return d, errors.Join(errs...)
}
