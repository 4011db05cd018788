package networkd

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/services/networkd/dhcpclient"
)

// setHostname acts on [DHCPv4] UseHostname=: the name a server sent (option
// 12) becomes the transient hostname, i.e. the kernel's. Upstream asks
// hostnamed; stead has none, so it sets the kernel hostname itself, and only
// where hostnamed would: when running on the real root (--root=/) and when
// /etc/hostname gives no static hostname. Under another --root the kernel's
// hostname belongs to whoever runs the test or image, so it is left alone;
// the name stays visible in the lease (networkctl dhcp-lease, Describe).
func setHostname(root string, l *dhcpclient.Lease, log *slog.Logger) {
	if l == nil {
		return
	}
	name := strings.TrimSuffix(l.ACK.HostName(), ".")
	if name == "" || !validHostname(name) {
		return
	}
	if filepath.Clean(root) != "/" {
		log.Debug("not setting the hostname from DHCP under --root", "hostname", name)
		return
	}
	if b, err := os.ReadFile("/etc/hostname"); err == nil && strings.TrimSpace(stripComments(string(b))) != "" {
		log.Debug("static hostname set; ignoring the one from DHCP", "hostname", name)
		return
	}
	if cur, err := os.Hostname(); err == nil && cur == name {
		return
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		log.Warn("setting hostname from DHCP failed", "hostname", name, "err", err)
		return
	}
	log.Info("hostname set from DHCP", "hostname", name)
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(t)
		}
	}
	return b.String()
}

// validHostname accepts what the kernel and hostnamed accept: 1…64 bytes of
// letters, digits, '-' and '.', no empty label.
func validHostname(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
