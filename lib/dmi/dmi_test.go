package dmi

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Captures from Linux 6.1 (Debian's cloud kernel) booted under qemu 7.2 with -smbios options:
// the attribute files as read from /sys/class/dmi/id and the kernel's modalias next to them.
var kernelCaptures = []struct {
	name     string
	fields   map[string]string
	modalias string
}{
	{
		name: "qemu defaults (no board strings)",
		fields: map[string]string{
			BIOSDate: "04/01/2014", BIOSRelease: "0.0", BIOSVendor: "SeaBIOS",
			BIOSVersion: "1.16.2-debian-1.16.2-1", ChassisAssetTag: "", ChassisSerial: "",
			ChassisType: "1", ChassisVendor: "QEMU", ChassisVersion: "pc-i440fx-7.2",
			ProductFamily: "", ProductName: "Standard PC (i440FX + PIIX, 1996)",
			ProductSerial: "", ProductSKU: "", ProductVersion: "pc-i440fx-7.2", SysVendor: "QEMU",
		},
		modalias: "dmi:bvnSeaBIOS:bvr1.16.2-debian-1.16.2-1:bd04/01/2014:br0.0:svnQEMU:pnStandardPC(i440FX+PIIX,1996):pvrpc-i440fx-7.2:cvnQEMU:ct1:cvrpc-i440fx-7.2:sku:",
	},
	{
		name: "spaces, colons, non-ASCII, DEL",
		fields: map[string]string{
			BIOSDate: "10/16/2017", BIOSRelease: "1.2", BIOSVendor: "Amazon EC2",
			BIOSVersion: "1.0 beta:x", BoardAssetTag: "", BoardName: "B N", BoardSerial: "",
			BoardVendor: "Board Inc", BoardVersion: "pc-i440fx-7.2",
			ChassisAssetTag: "7783-7084-3265-9085-8269-3286-77", ChassisSerial: "",
			ChassisType: "1", ChassisVendor: "Chassis Co", ChassisVersion: "cv 1",
			ProductFamily: "Fam", ProductName: "p\xc3\xa9 [1]*?\x7f~", ProductSerial: "",
			ProductSKU: "SKU 9", ProductVersion: "", SysVendor: "Sys Ven:dor",
		},
		modalias: "dmi:bvnAmazonEC2:bvr1.0betax:bd10/16/2017:br1.2:svnSysVendor:pnp[1]*?~:pvr:rvnBoardInc:rnBN:rvrpc-i440fx-7.2:cvnChassisCo:ct1:cvrcv1:skuSKU9:",
	},
	{
		name: "blank and padded strings",
		fields: map[string]string{
			BIOSDate: "04/01/2014", BIOSRelease: "0.0", BIOSVendor: "SeaBIOS",
			BIOSVersion: "1.16.2-debian-1.16.2-1", ChassisAssetTag: "Oracle Cloud.com ",
			ChassisSerial: "", ChassisType: "1", ChassisVendor: "QEMU",
			ChassisVersion: "pc-i440fx-7.2", ProductFamily: "", ProductName: "Trail  ",
			ProductSerial: "", ProductSKU: "", ProductVersion: "pc-i440fx-7.2", SysVendor: "",
		},
		modalias: "dmi:bvnSeaBIOS:bvr1.16.2-debian-1.16.2-1:bd04/01/2014:br0.0:svn:pnTrail:pvrpc-i440fx-7.2:cvnQEMU:ct1:cvrpc-i440fx-7.2:sku:",
	},
}

func TestBuildModaliasMatchesKernel(t *testing.T) {
	for _, c := range kernelCaptures {
		if got := BuildModalias(c.fields); got != c.modalias {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.modalias)
		}
	}
}

func TestBuildModaliasFieldOrder(t *testing.T) {
	fields := map[string]string{}
	for _, f := range ModaliasFields {
		fields[f.Name] = f.Prefix
	}
	fields[ProductSerial] = "never" // not part of the modalias
	fields[ChassisAssetTag] = "never"
	want := "dmi:bvnbvn:bvrbvr:bdbd:brbr:efrefr:svnsvn:pnpn:pvrpvr:rvnrvn:rnrn:rvrrvr:cvncvn:ctct:cvrcvr:skusku:"
	if got := BuildModalias(fields); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := BuildModalias(nil); got != "dmi:" {
		t.Errorf("no fields: %q", got)
	}
}

func TestFilter(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"Amazon EC2":        "AmazonEC2",
		"a:b:c":             "abc",
		"tab\there\nnl":     "tabherenl",
		"caf\xc3\xa9\x7f~!": "caf~!",
		"OracleCloud.com":   "OracleCloud.com",
	} {
		if got := Filter(in); got != want {
			t.Errorf("Filter(%q) = %q, want %q", in, got, want)
		}
	}
}

// writeTree writes fields as a kernel DMI directory under root/dir; each file ends with a
// newline as the kernel's do. A "modalias" key writes the modalias file.
func writeTree(t *testing.T, root, dir string, fields map[string]string) {
	t.Helper()
	d := filepath.Join(root, dir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range fields {
		if err := os.WriteFile(filepath.Join(d, name), []byte(v+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRead(t *testing.T) {
	c := kernelCaptures[1]
	root := t.TempDir()
	files := map[string]string{ModaliasFile: c.modalias, "uevent": "MODALIAS=" + c.modalias}
	for k, v := range c.fields {
		files[k] = v
	}
	writeTree(t, root, Dir, files)

	info, err := Read(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Fields) != len(c.fields) {
		t.Errorf("read %d fields, want %d: %v", len(info.Fields), len(c.fields), info.Fields)
	}
	for k, v := range c.fields {
		if got, ok := info.Get(k); !ok || got != v {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if _, ok := info.Get(ECFirmwareRelease); ok {
		t.Error("ec_firmware_release present")
	}
	if info.RawModalias != c.modalias || info.KernelModalias() != c.modalias {
		t.Errorf("modalias %q", info.RawModalias)
	}
	want := c.modalias + "cat7783-7084-3265-9085-8269-3286-77:"
	if got := info.Modalias(); got != want {
		t.Errorf("Modalias() = %q, want %q", got, want)
	}
}

func TestReadPrefersModaliasFile(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, Dir, map[string]string{ModaliasFile: "dmi:bvnFromFile:", BIOSVendor: "FromField"})
	info, err := Read(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Modalias(); got != "dmi:bvnFromFile:" {
		t.Errorf("Modalias() = %q", got)
	}
	// Without the file the modalias is built from the fields.
	os.Remove(filepath.Join(root, Dir, ModaliasFile))
	info, _ = Read(root)
	if got := info.Modalias(); got != "dmi:bvnFromField:" {
		t.Errorf("Modalias() = %q", got)
	}
}

func TestReadAssetTagVerbatim(t *testing.T) {
	c := kernelCaptures[2]
	root := t.TempDir()
	writeTree(t, root, AltDir, c.fields) // only the device directory, no modalias file
	info, err := Read(root)
	if err != nil {
		t.Fatal(err)
	}
	// Appended unfiltered, as upstream's generator does (it only cuts the newline).
	if got, want := info.Modalias(), c.modalias+"catOracle Cloud.com :"; got != want {
		t.Errorf("Modalias() = %q, want %q", got, want)
	}
}

func TestReadNoAssetTag(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, Dir, map[string]string{SysVendor: "X", ChassisAssetTag: ""})
	info, err := Read(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Modalias(); got != "dmi:svnX:" {
		t.Errorf("Modalias() = %q", got)
	}
}

func TestReadNoDMI(t *testing.T) {
	_, err := Read(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}
