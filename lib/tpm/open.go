package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

// Device is a parsed TPM name.
type Device struct {
	Kind    string // "device" (a node or a raw-command unix socket), "swtpm" (raw TCP), "mssim"
	Path    string // Kind "device", or "swtpm" with path=
	Address string // host:port for TCP
}

// Defaults of tpm2-tss's swtpm and mssim TCTIs.
const (
	defaultHost       = "localhost"
	defaultSwtpmPort  = 2321
	defaultMssimPort  = 2321
	maxResponse       = 64 << 10
	connectionTimeout = 10 * time.Second
)

// ParseDevice reads a TPM name as upstream's --tpm2-device= and $SYSTEMD_TPM2_DEVICE take it:
//   - "" or "auto": DefaultDevice;
//   - a path: a TPM character device (/dev/tpmrm0) or a unix socket speaking raw TPM 2.0
//     commands (swtpm's `--server type=unixio`);
//   - "device:PATH" (tpm2-tss's device TCTI), the same;
//   - "swtpm:path=SOCKET" (unix socket) or "swtpm:host=H,port=P" (TCP, raw TPM commands;
//     defaults localhost and 2321), tpm2-tss's swtpm TCTI;
//   - "mssim:host=H,port=P" (TCP, the Microsoft simulator protocol; the platform port is
//     P+1; defaults localhost and 2321), tpm2-tss's mssim TCTI. swtpm's TCP server speaks it
//     too.
func ParseDevice(s string) (Device, error) {
	if s == "" || s == "auto" {
		return Device{Kind: "device", Path: DefaultDevice}, nil
	}
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return Device{Kind: "device", Path: s}, nil
	}
	driver, conf, _ := strings.Cut(s, ":")
	switch driver {
	case "device":
		if conf == "" {
			conf = DefaultDevice
		}
		return Device{Kind: "device", Path: conf}, nil
	case "swtpm", "mssim", "libtss2-tcti-swtpm.so.0", "libtss2-tcti-mssim.so.0":
		kind := strings.TrimSuffix(strings.TrimPrefix(driver, "libtss2-tcti-"), ".so.0")
		host, port := defaultHost, defaultSwtpmPort
		if kind == "mssim" {
			port = defaultMssimPort
		}
		var path string
		if conf != "" {
			for _, kv := range strings.Split(conf, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return Device{}, fmt.Errorf("TPM device %q: %q is not KEY=VALUE", s, kv)
				}
				switch k {
				case "host":
					host = v
				case "port":
					p, err := strconv.ParseUint(v, 10, 16)
					if err != nil || p == 0 || (kind == "mssim" && p == 65535) {
						return Device{}, fmt.Errorf("TPM device %q: bad port %q", s, v)
					}
					port = int(p)
				case "path":
					if kind != "swtpm" {
						return Device{}, fmt.Errorf("TPM device %q: path= is swtpm's only", s)
					}
					path = v
				default:
					return Device{}, fmt.Errorf("TPM device %q: unknown key %q", s, k)
				}
			}
		}
		if path != "" {
			return Device{Kind: "device", Path: path}, nil
		}
		return Device{Kind: kind, Address: net.JoinHostPort(host, strconv.Itoa(port))}, nil
	}
	return Device{}, fmt.Errorf("TPM device %q: unknown driver %q (a path, device:, swtpm: or mssim:)", s, driver)
}

// String is the device in the form ParseDevice reads.
func (d Device) String() string {
	switch d.Kind {
	case "device":
		return d.Path
	default:
		h, p, _ := net.SplitHostPort(d.Address)
		return d.Kind + ":host=" + h + ",port=" + p
	}
}

// Open opens the TPM named s (ParseDevice) and makes sure it has been started up. When there
// is no TPM there the error wraps ErrNoTPM.
func Open(s string) (*TPM, error) {
	d, err := ParseDevice(s)
	if err != nil {
		return nil, err
	}
	return d.Open()
}

// Open opens the device; see the package's Open.
func (d Device) Open() (*TPM, error) {
	var t *TPM
	switch d.Kind {
	case "device":
		fi, err := os.Stat(d.Path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s does not exist", ErrNoTPM, d.Path)
			}
			return nil, err
		}
		switch {
		case fi.Mode()&fs.ModeSocket != 0:
			t = New(&streamTPM{network: "unix", addr: d.Path}, nil)
		case fi.Mode()&fs.ModeCharDevice != 0:
			c, err := linuxtpm.Open(d.Path)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO) {
					return nil, fmt.Errorf("%w: %s: %v", ErrNoTPM, d.Path, err)
				}
				return nil, err
			}
			t = New(c, c.Close)
		default:
			return nil, fmt.Errorf("%s is neither a TPM device nor a socket", d.Path)
		}
	case "swtpm":
		t = New(&streamTPM{network: "tcp", addr: d.Address}, nil)
	case "mssim":
		c, err := tcp.Open(tcp.Config{CommandAddress: d.Address, PlatformAddress: platformAddress(d.Address)})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoTPM, err)
		}
		// A fresh Microsoft simulator is off; powering on one that is on does no harm. swtpm
		// answers the platform commands it lacks (NV_ON) with an error: whether the TPM
		// works is what the first command below tells.
		_ = c.PowerOn()
		t = New(c, c.Close)
	default:
		return nil, fmt.Errorf("unknown TPM device kind %q", d.Kind)
	}
	if err := t.startup(); err != nil {
		t.Close()
		if isAbsent(err) {
			return nil, fmt.Errorf("%w: %s: %v", ErrNoTPM, d, err)
		}
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	return t, nil
}

// platformAddress is the mssim platform port: the command port plus one.
func platformAddress(addr string) string {
	h, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return net.JoinHostPort(h, strconv.Itoa(n+1))
}

// isAbsent reports whether err means nobody serves the TPM's address.
func isAbsent(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) || errors.Is(err, fs.ErrNotExist)
}

// streamTPM sends each command over a new stream connection (a unix socket or TCP) and reads
// the whole response by its header's size. A connection per command is what swtpm's
// single-client server needs to serve other clients between our commands.
type streamTPM struct {
	network, addr string
}

var _ transport.TPM = (*streamTPM)(nil)

func (s *streamTPM) Send(cmd []byte) ([]byte, error) {
	c, err := net.DialTimeout(s.network, s.addr, connectionTimeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute)) // key generation can be slow
	if _, err := c.Write(cmd); err != nil {
		return nil, err
	}
	var hdr [10]byte // tag, size, response code
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading the TPM's response: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > maxResponse {
		return nil, fmt.Errorf("TPM response of %d bytes", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr[:])
	if _, err := io.ReadFull(c, rsp[10:]); err != nil {
		return nil, fmt.Errorf("reading the TPM's response: %w", err)
	}
	return rsp, nil
}
