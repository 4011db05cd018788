package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// DefaultModules are loaded in every VM (with their dependencies): the virtio transport, the
// agent's virtio-serial port, virtio-net and the TPM TIS driver. Modules the kernel has
// built in are skipped (the Debian cloud kernel builds tpm, tpm_tis_core and tpm_tis in).
var DefaultModules = []string{
	"virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
	"failover", "net_failover", "virtio_net", "virtio_console",
	"tpm", "tpm_tis_core", "tpm_tis",
}

// Module is a kernel module file ready to be placed in the guest.
type Module struct {
	Name string   // e.g. virtio_net
	Path string   // relative to /lib/modules/VERSION, always ending in .ko (decompressed)
	Deps []string // names from its depends= field
	Data []byte   // the uncompressed .ko
}

type modIndex struct {
	dir     string
	files   map[string]string // module name → path relative to dir (possibly .ko.xz …)
	builtin map[string]bool
}

var (
	modIndexMu sync.Mutex
	modIndexes = map[string]*modIndex{}
)

// modName turns a file name or a module name into the canonical module name.
func modName(s string) string {
	s = filepath.Base(s)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		s = strings.TrimSuffix(s, ext)
	}
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

func loadIndex(dir string) (*modIndex, error) {
	modIndexMu.Lock()
	defer modIndexMu.Unlock()
	if ix := modIndexes[dir]; ix != nil {
		return ix, nil
	}
	ix := &modIndex{dir: dir, files: map[string]string{}, builtin: map[string]bool{}}
	err := filepath.WalkDir(filepath.Join(dir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.Contains(d.Name(), ".ko") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		ix.files[modName(d.Name())] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexing kernel modules: %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			ix.builtin[modName(l)] = true
		}
	}
	modIndexes[dir] = ix
	return ix, nil
}

// ResolveModules returns the named modules of the kernel module tree dir
// (/lib/modules/VERSION) and everything they depend on, in an order that can be loaded one
// after the other. Built-in modules are left out; an unknown name is an error.
func ResolveModules(dir string, names []string) ([]Module, error) {
	ix, err := loadIndex(dir)
	if err != nil {
		return nil, err
	}
	var out []Module
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		name = modName(name)
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle through %s", name)
		case 2:
			return nil
		}
		if ix.builtin[name] {
			state[name] = 2
			return nil
		}
		rel, ok := ix.files[name]
		if !ok {
			if from != "" {
				return fmt.Errorf("module %s (needed by %s) not found in %s", name, from, dir)
			}
			return fmt.Errorf("module %s not found in %s", name, dir)
		}
		state[name] = 1
		data, err := readModule(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		deps, err := moduleDepends(data)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		rel = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(rel, ".xz"), ".zst"), ".gz")
		out = append(out, Module{Name: name, Path: rel, Deps: deps, Data: data})
		return nil
	}
	for _, n := range names {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readModule reads a .ko, decompressing .ko.gz in Go and .ko.xz / .ko.zst with xz / zstd
// (busybox insmod and finit_module without flags want plain ELF).
func readModule(path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".ko"):
		return os.ReadFile(path)
	case strings.HasSuffix(path, ".ko.gz"):
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return io.ReadAll(zr)
	case strings.HasSuffix(path, ".ko.xz"), strings.HasSuffix(path, ".ko.zst"):
		tool := "xz"
		if strings.HasSuffix(path, ".zst") {
			tool = "zstd"
		}
		var stderr bytes.Buffer
		cmd := exec.Command(tool, "-d", "-c", path)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s -d %s: %v %s", tool, path, err, stderr.Bytes())
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: not a kernel module file name", path)
}

// moduleDepends reads the depends= entry of a module's .modinfo section.
func moduleDepends(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, d)
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// modulesDep renders a modules.dep (the format modprobe reads) for the modules given.
func modulesDep(mods []Module) []byte {
	byName := map[string]Module{}
	for _, m := range mods {
		byName[m.Name] = m
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	for _, m := range mods {
		// All transitive dependencies, nearest last, as depmod writes them.
		var all []string
		seen := map[string]bool{}
		var walk func(n string)
		walk = func(n string) {
			for _, d := range byName[n].Deps {
				d = modName(d)
				if seen[d] {
					continue
				}
				seen[d] = true
				if dm, ok := byName[d]; ok {
					all = append(all, dm.Path)
				}
				walk(d)
			}
		}
		walk(m.Name)
		fmt.Fprintf(w, "%s:", m.Path)
		for _, p := range all {
			fmt.Fprintf(w, " %s", p)
		}
		fmt.Fprintln(w)
	}
	w.Flush()
	return b.Bytes()
}
