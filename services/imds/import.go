package imds

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/stead-os/stead/lib/api/iosystemdpcrextend"
	"github.com/stead-os/stead/lib/atomicfile"
	"github.com/stead-os/stead/lib/resolverr"
	"github.com/stead-os/stead/lib/userdata"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Credential names the imported hostname and SSH key are stored under.
const (
	HostnameCredential = "firstboot.hostname"
	SSHKeyCredential   = "ssh.authorized_keys.root"
	measurePCR         = 12
	measureEventType   = "imds_userdata"
	measurePrefixBytes = 256
)

func runImport(ctx context.Context, c *conn, o *Options) error {
	if err := importPublicAddresses(ctx, c, o); err != nil {
		return err
	}
	for _, x := range []struct{ wellKnown, cred, what string }{
		{"hostname", HostnameCredential, "host name"},
		{"ssh_key", SSHKeyCredential, "SSH key"},
	} {
		b, err := c.get(ctx, x.wellKnown, "")
		if errors.Is(err, ErrAbsent) || (err == nil && len(b) == 0) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", x.what, err)
		}
		written, err := writeCredential(under(o.Root, CredstoreDir), x.cred, b)
		if err != nil {
			return err
		}
		if written {
			fmt.Fprintf(o.progress(), "Stored the %s in credential '%s'.\n", x.what, x.cred)
		} else {
			o.log().Info("credential exists already, not replacing it", "credential", x.cred)
		}
	}
	return importUserdata(ctx, c, o)
}

// importPublicAddresses writes the public addresses as resolved static records for the name
// "_public", or removes the file when there are none.
func importPublicAddresses(ctx context.Context, c *conn, o *Options) error {
	var addrs []netip.Addr
	for _, x := range []struct {
		wellKnown string
		v4        bool
	}{{"ipv4_public", true}, {"ipv6_public", false}} {
		b, err := c.get(ctx, x.wellKnown, "")
		if errors.Is(err, ErrAbsent) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", x.wellKnown, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Is4() != x.v4 || a.Zone() != "" {
			o.log().Warn("ignoring invalid public address", "key", x.wellKnown, "value", s)
			continue
		}
		addrs = append(addrs, a)
	}
	path := under(o.Root, PublicRRFile)
	b := resolverr.Addresses("_public", addrs...)
	if b == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(path, b, 0o644); err != nil {
		return err
	}
	o.log().Info("public addresses written as resolver records", "path", PublicRRFile)
	return nil
}

func importUserdata(ctx context.Context, c *conn, o *Options) error {
	copyPath := under(o.Root, UserdataCopy)
	data, err := c.userdata(ctx)
	if err != nil {
		return fmt.Errorf("get user data: %w", err)
	}
	if data == nil {
		if err := os.Remove(copyPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		o.log().Info("no user data")
		return nil
	}
	measure(ctx, o, data)
	if err := os.MkdirAll(filepath.Dir(copyPath), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(copyPath, data, 0o644); err != nil {
		o.log().Warn("could not keep a copy of the user data", "path", UserdataCopy, "err", err)
	}
	res, err := userdata.Parse(data)
	if errors.Is(err, userdata.ErrNUL) {
		// Like upstream: not processed, but not a failure of the import.
		o.log().Warn("user data contains NUL bytes, not processing it")
		return nil
	}
	if !res.Recognized {
		o.log().Info("user data is not meant for systemd, ignoring it")
		return nil
	}
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		o.log().Warn("ignoring invalid credential in user data: " + s)
	}
	for _, name := range res.Duplicates {
		o.log().Info("credential given more than once in user data, using the first", "credential", name)
	}
	n := 0
	for _, cr := range res.Credentials {
		dir := CredstoreDir
		if cr.Kind == userdata.Encrypted {
			dir = CredstoreEncDir
		}
		written, err := writeCredential(under(o.Root, dir), cr.Name, cr.Value)
		if err != nil {
			return err
		}
		if !written {
			o.log().Info("credential exists already, not replacing it", "credential", cr.Name, "dir", dir)
			continue
		}
		n++
		fmt.Fprintf(o.progress(), "Stored credential '%s' from user data (%d bytes).\n", cr.Name, len(cr.Value))
	}
	fmt.Fprintf(o.progress(), "%d credentials imported from user data.\n", n)
	if len(res.Skipped) > 0 {
		// The valid ones are imported; the invalid ones fail the run, as upstream's does.
		return &ExitError{Code: ExitFailure, Msg: fmt.Sprintf("%d invalid credential entries in user data skipped.", len(res.Skipped))}
	}
	return nil
}

// MeasureText is the string measured for user data b.
func MeasureText(b []byte) string {
	sum := sha256.Sum256(b)
	return "imds-userdata:" + hex.EncodeToString(sum[:]) + ":" +
		base64.StdEncoding.EncodeToString(b[:min(len(b), measurePrefixBytes)])
}

// measure extends PCR 12 with the user data through io.systemd.PCRExtend; failures are
// logged and tolerated.
func measure(ctx context.Context, o *Options, b []byte) {
	sock := under(o.Root, PCRExtendSocket)
	vc, err := varlinkd.Dial(ctx, iosystemdpcrextend.SocketAddress(o.Root))
	if err != nil {
		o.log().Debug("not measuring user data: no PCR extension service", "socket", sock, "err", err)
		return
	}
	defer vc.Close()
	pcr, text, eventType := int64(measurePCR), MeasureText(b), iosystemdpcrextend.EventType(measureEventType)
	in := iosystemdpcrextend.ExtendParameters{PCR: &pcr, Text: &text, EventType: &eventType}
	if err := iosystemdpcrextend.NewClient(vc).Extend(ctx, in); err != nil {
		o.log().Warn("measuring user data failed, continuing", "err", err)
		return
	}
	o.log().Debug("measured user data into PCR 12")
}

// writeCredential stores b as dir/name (mode 0400, dir 0700) unless that file exists.
func writeCredential(dir, name string, b []byte) (bool, error) {
	if !userdata.ValidName(name) {
		return false, fmt.Errorf("invalid credential name %q", name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return false, err
	}
	return atomicfile.WriteNew(filepath.Join(dir, name), b, 0o400)
}
