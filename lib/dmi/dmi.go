// Package dmi reads the SMBIOS/DMI identification strings the kernel publishes in
// /sys/class/dmi/id and builds the modalias string hwdb lookups are made with.
package dmi

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Dir is the kernel's DMI id directory; AltDir is the device directory it links to, read
// when Dir is missing (a fake tree may hold only one of them).
const (
	Dir    = "/sys/class/dmi/id"
	AltDir = "/sys/devices/virtual/dmi/id"
)

// Attribute file names in Dir.
const (
	BIOSVendor        = "bios_vendor"
	BIOSVersion       = "bios_version"
	BIOSDate          = "bios_date"
	BIOSRelease       = "bios_release"
	ECFirmwareRelease = "ec_firmware_release"
	SysVendor         = "sys_vendor"
	ProductName       = "product_name"
	ProductVersion    = "product_version"
	ProductSerial     = "product_serial"
	ProductUUID       = "product_uuid"
	ProductFamily     = "product_family"
	ProductSKU        = "product_sku"
	BoardVendor       = "board_vendor"
	BoardName         = "board_name"
	BoardVersion      = "board_version"
	BoardSerial       = "board_serial"
	BoardAssetTag     = "board_asset_tag"
	ChassisVendor     = "chassis_vendor"
	ChassisType       = "chassis_type"
	ChassisVersion    = "chassis_version"
	ChassisSerial     = "chassis_serial"
	ChassisAssetTag   = "chassis_asset_tag"
	ModaliasFile      = "modalias"
)

// Attributes lists every attribute Read looks for. The kernel creates a file only for the
// strings the firmware provides; the serial numbers and the UUID are readable by root only.
var Attributes = []string{
	BIOSVendor, BIOSVersion, BIOSDate, BIOSRelease, ECFirmwareRelease,
	SysVendor, ProductName, ProductVersion, ProductSerial, ProductUUID, ProductFamily, ProductSKU,
	BoardVendor, BoardName, BoardVersion, BoardSerial, BoardAssetTag,
	ChassisVendor, ChassisType, ChassisVersion, ChassisSerial, ChassisAssetTag,
}

// ModaliasField is one part of the kernel's DMI modalias: Prefix followed by the filtered value
// of the attribute Name.
type ModaliasField struct{ Prefix, Name string }

// ModaliasFields are the parts of the kernel's DMI modalias in the kernel's order
// (drivers/firmware/dmi-id.c). The kernel only ever appends to this list.
var ModaliasFields = []ModaliasField{
	{"bvn", BIOSVendor},
	{"bvr", BIOSVersion},
	{"bd", BIOSDate},
	{"br", BIOSRelease},
	{"efr", ECFirmwareRelease},
	{"svn", SysVendor},
	{"pn", ProductName},
	{"pvr", ProductVersion},
	{"rvn", BoardVendor},
	{"rn", BoardName},
	{"rvr", BoardVersion},
	{"cvn", ChassisVendor},
	{"ct", ChassisType},
	{"cvr", ChassisVersion},
	{"sku", ProductSKU},
}

// Info is what Read found.
type Info struct {
	// Fields maps each attribute of Attributes that exists and is readable to its content,
	// cut at the first newline (the kernel ends each with one). The firmware may provide an
	// empty string, which is present with value "".
	Fields map[string]string
	// RawModalias is the content of the kernel's modalias file, cut at the first newline, or
	// "" when there is none.
	RawModalias string
}

// Read reads the DMI attributes under root ("" or "/" for the host). It fails only when
// neither Dir nor AltDir exists (no DMI, e.g. many non-x86 machines or a container without
// /sys) or cannot be read; unreadable single attributes are left out.
func Read(root string) (Info, error) {
	dir := ""
	for _, d := range []string{Dir, AltDir} {
		p := filepath.Join(rootDir(root), d)
		st, err := os.Stat(p)
		if err == nil && st.IsDir() {
			dir = p
			break
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Info{}, fmt.Errorf("dmi: %w", err)
		}
	}
	if dir == "" {
		return Info{}, fmt.Errorf("dmi: no %s: %w", Dir, fs.ErrNotExist)
	}
	info := Info{Fields: map[string]string{}}
	for _, name := range Attributes {
		if v, ok := readAttr(filepath.Join(dir, name)); ok {
			info.Fields[name] = v
		}
	}
	info.RawModalias, _ = readAttr(filepath.Join(dir, ModaliasFile))
	return info, nil
}

func rootDir(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

func readAttr(path string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	s, _, _ := strings.Cut(string(b), "\n")
	return s, true
}

// Get returns the value of an attribute and whether it is present.
func (i Info) Get(name string) (string, bool) {
	v, ok := i.Fields[name]
	return v, ok
}

// KernelModalias returns the kernel's modalias: the modalias file when there is one, else
// the same string built from the attributes (BuildModalias).
func (i Info) KernelModalias() string {
	if i.RawModalias != "" {
		return i.RawModalias
	}
	return BuildModalias(i.Fields)
}

// Modalias returns the string hwdb is queried with for DMI properties such as IMDS_*: the
// kernel's modalias followed by "cat<chassis asset tag>:" when the asset tag is not empty.
// The kernel leaves the asset tag out of its modalias; systemd appends it the same way (the
// imds generator and the 60-dmi-id udev rule) because some clouds can only be told apart by
// it, e.g. Azure and Oracle Cloud. The asset tag is appended unfiltered, as upstream does.
func (i Info) Modalias() string {
	m := i.KernelModalias()
	if tag := i.Fields[ChassisAssetTag]; tag != "" {
		m += "cat" + tag + ":"
	}
	return m
}

// BuildModalias builds the kernel's DMI modalias from attribute values (keyed by attribute
// name): "dmi", then ":<prefix><filtered value>" for every present field of ModaliasFields in
// order, then a final ":". Absent fields are left out; present but empty ones keep their
// prefix, as in the kernel.
func BuildModalias(fields map[string]string) string {
	var sb strings.Builder
	sb.WriteString("dmi")
	for _, f := range ModaliasFields {
		v, ok := fields[f.Name]
		if !ok {
			continue
		}
		sb.WriteByte(':')
		sb.WriteString(f.Prefix)
		sb.WriteString(Filter(v))
	}
	sb.WriteByte(':')
	return sb.String()
}

// Filter drops what the kernel keeps out of modalias values: every byte that is not printable
// ASCII, the space, and ':'.
func Filter(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c > ' ' && c < 0x7f && c != ':' {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
