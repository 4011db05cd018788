package oomd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Pressure is one line of a PSI file: averages in ‱ (hundredths of a percent), the total
// stall time in µs.
type Pressure struct {
	Avg10, Avg60, Avg300 int64
	Total                uint64
}

// XAttrs reads and writes the extended attributes of cgroup directories. The real one uses
// the user.* attributes of the file system (cgroupfs, or tmpfs and ext4 in fake trees).
type XAttrs interface {
	Get(dir, name string) (string, error)
	Set(dir, name, value string) error
}

// CGroupFS reads the cgroup v2 tree mounted at Dir (ROOT/sys/fs/cgroup).
type CGroupFS struct {
	Dir   string
	XAttr XAttrs
}

// NewCGroupFS is the tree under root with the file system's own extended attributes.
func NewCGroupFS(root string) *CGroupFS {
	return &CGroupFS{Dir: filepath.Join(root, "sys/fs/cgroup"), XAttr: sysXAttrs{}}
}

// dir is the host directory of the cgroup p ("/system.slice/x.service").
func (fs *CGroupFS) dir(p string) string { return filepath.Join(fs.Dir, path.Clean("/"+p)) }

func (fs *CGroupFS) read(p, file string) ([]byte, error) {
	return os.ReadFile(filepath.Join(fs.dir(p), file))
}

// Exists reports whether the cgroup is there.
func (fs *CGroupFS) Exists(p string) bool {
	fi, err := os.Stat(fs.dir(p))
	return err == nil && fi.IsDir()
}

// MemoryPressure reads the "full" line of memory.pressure.
func (fs *CGroupFS) MemoryPressure(p string) (Pressure, error) {
	b, err := fs.read(p, "memory.pressure")
	if err != nil {
		return Pressure{}, err
	}
	return ParsePressure(b, "full")
}

// ParsePressure reads the line of a PSI file that starts with kind ("some" or "full"):
// "full avg10=1.23 avg60=0.50 avg300=0.10 total=12345".
func ParsePressure(b []byte, kind string) (Pressure, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != kind {
			continue
		}
		var p Pressure
		seen := 0
		for _, f := range fields[1:] {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return Pressure{}, fmt.Errorf("bad PSI field %q", f)
			}
			var err error
			switch k {
			case "avg10":
				p.Avg10, err = parseHundredths(v)
			case "avg60":
				p.Avg60, err = parseHundredths(v)
			case "avg300":
				p.Avg300, err = parseHundredths(v)
			case "total":
				p.Total, err = strconv.ParseUint(v, 10, 64)
			default:
				continue
			}
			if err != nil {
				return Pressure{}, fmt.Errorf("bad PSI field %q", f)
			}
			seen++
		}
		if seen != 4 {
			return Pressure{}, errors.New("incomplete PSI line")
		}
		return p, nil
	}
	return Pressure{}, fmt.Errorf("no %q line in PSI data", kind)
}

// parseHundredths reads a PSI percentage with up to two decimals ("12.34") in ‱.
func parseHundredths(v string) (int64, error) {
	whole, frac, _ := strings.Cut(v, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 || w > 100 || len(frac) > 2 {
		return 0, errors.New("bad percentage")
	}
	f := int64(0)
	if frac != "" {
		f, err = strconv.ParseInt(frac, 10, 64)
		if err != nil || f < 0 {
			return 0, errors.New("bad percentage")
		}
		if len(frac) == 1 {
			f *= 10
		}
	}
	return w*100 + f, nil
}

// Uint reads a file holding one number; "max" gives ok false.
func (fs *CGroupFS) Uint(p, file string) (v uint64, ok bool, err error) {
	b, err := fs.read(p, file)
	if err != nil {
		return 0, false, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false, nil
	}
	v, err = strconv.ParseUint(s, 10, 64)
	return v, err == nil, err
}

// Pgscan reads the pgscan counter of memory.stat.
func (fs *CGroupFS) Pgscan(p string) (uint64, error) {
	b, err := fs.read(p, "memory.stat")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "pgscan "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("no pgscan in memory.stat")
}

// OOMGroup reads memory.oom.group (a missing file is 0).
func (fs *CGroupFS) OOMGroup(p string) bool {
	b, err := fs.read(p, "memory.oom.group")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// Children lists the child cgroups of p, as paths, sorted.
func (fs *CGroupFS) Children(p string) ([]string, error) {
	ents, err := os.ReadDir(fs.dir(p))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, path.Join(path.Clean("/"+p), e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Procs lists the pids in cgroup.procs of p.
func (fs *CGroupFS) Procs(p string) ([]int, error) {
	b, err := fs.read(p, "cgroup.procs")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out, nil
}

// Owner is the uid owning the cgroup's directory (delegated groups belong to their user).
func (fs *CGroupFS) Owner(p string) (uint32, error) {
	fi, err := os.Stat(fs.dir(p))
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, errors.New("no owner")
	}
	return st.Uid, nil
}

// XAttrBool reads a boolean extended attribute ("1", "yes", …); absent or unreadable is false.
func (fs *CGroupFS) XAttrBool(p, name string) bool {
	v, err := fs.XAttr.Get(fs.dir(p), name)
	if err != nil {
		return false
	}
	switch strings.TrimSpace(v) {
	case "1", "yes", "y", "true", "t", "on":
		return true
	}
	return false
}

// AddXAttr adds n to the decimal counter in the extended attribute name of p.
func (fs *CGroupFS) AddXAttr(p, name string, n uint64) error {
	cur := uint64(0)
	if v, err := fs.XAttr.Get(fs.dir(p), name); err == nil && v != "" {
		c, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%s holds %q", name, v)
		}
		cur = c
	}
	if cur > ^uint64(0)-n {
		return fmt.Errorf("%s would overflow", name)
	}
	return fs.XAttr.Set(fs.dir(p), name, strconv.FormatUint(cur+n, 10))
}

// MemInfo is what oomd reads from /proc/meminfo, in bytes.
type MemInfo struct {
	MemTotal, MemAvailable, SwapTotal, SwapFree uint64
}

// MemUsed is MemTotal − MemAvailable.
func (m MemInfo) MemUsed() uint64 { return sub(m.MemTotal, m.MemAvailable) }

// SwapUsed is SwapTotal − SwapFree.
func (m MemInfo) SwapUsed() uint64 { return sub(m.SwapTotal, m.SwapFree) }

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// ReadMemInfo reads root's /proc/meminfo.
func ReadMemInfo(root string) (MemInfo, error) {
	b, err := os.ReadFile(filepath.Join(root, "proc/meminfo"))
	if err != nil {
		return MemInfo{}, err
	}
	return ParseMemInfo(b)
}

// ParseMemInfo reads MemTotal, MemAvailable, SwapTotal and SwapFree ("Key:   N kB").
func ParseMemInfo(b []byte) (MemInfo, error) {
	var m MemInfo
	found := 0
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch k {
		case "MemTotal":
			dst = &m.MemTotal
		case "MemAvailable":
			dst = &m.MemAvailable
		case "SwapTotal":
			dst = &m.SwapTotal
		case "SwapFree":
			dst = &m.SwapFree
		default:
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return MemInfo{}, fmt.Errorf("meminfo: no value for %s", k)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || n > (^uint64(0))/1024 {
			return MemInfo{}, fmt.Errorf("meminfo: bad value for %s", k)
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		*dst = n
		found++
	}
	if m.MemTotal == 0 {
		return MemInfo{}, errors.New("meminfo: no MemTotal")
	}
	if m.SwapFree > m.SwapTotal {
		return MemInfo{}, fmt.Errorf("meminfo: SwapFree (%d) exceeds SwapTotal (%d)", m.SwapFree, m.SwapTotal)
	}
	_ = found
	return m, nil
}
