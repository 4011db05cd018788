package networkd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/atomicfile"
)

// writeStateFiles publishes the link states the way upstream's sd-network readers
// (networkctl list, networkd-wait-online) expect them: /run/systemd/netif/links/IFINDEX and
// /run/systemd/netif/state, KEY=VALUE lines, replaced atomically. Files of links that went
// away are removed.
func (s *service) writeStateFiles() error {
	it, err := s.describeAll()
	if err != nil {
		return err
	}
	dir := filepath.Join(s.root, "run/systemd/netif/links")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	keep := map[string]bool{}
	dns := map[string]bool{}
	var allDNS []string
	for _, i := range it {
		name := strconv.Itoa(i.Index)
		keep[name] = true
		var b strings.Builder
		fmt.Fprintf(&b, "# This is private data. Do not parse.\nADMIN_STATE=%s\nOPER_STATE=%s\nCARRIER_STATE=%s\nADDRESS_STATE=%s\nIPV4_ADDRESS_STATE=%s\nIPV6_ADDRESS_STATE=%s\n",
			i.AdministrativeState, i.OperationalState, i.CarrierState, i.AddressState, i.IPv4AddressState, i.IPv6AddressState)
		if i.NetworkFile != "" {
			if i.OnlineState != "" {
				fmt.Fprintf(&b, "ONLINE_STATE=%s\n", i.OnlineState)
			}
			fmt.Fprintf(&b, "REQUIRED_FOR_ONLINE=%s\n", yesNo(i.RequiredForOnline != nil && *i.RequiredForOnline))
			fmt.Fprintf(&b, "REQUIRED_OPER_STATE_FOR_ONLINE=%s\n", strings.Join(i.RequiredOperStateForOnline, ":"))
			fmt.Fprintf(&b, "REQUIRED_FAMILY_FOR_ONLINE=%s\nACTIVATION_POLICY=%s\n", i.RequiredFamilyForOnline, i.ActivationPolicy)
			fmt.Fprintf(&b, "NETWORK_FILE=%s\nNETWORK_FILE_DROPINS=\"\"\n", i.NetworkFile)
			fmt.Fprintf(&b, "DNS=%s\n", dnsList(i.DNS))
			for _, d := range i.DNS {
				if !dns[d.AddressString] {
					dns[d.AddressString] = true
					allDNS = append(allDNS, d.AddressString)
				}
			}
		}
		if err := writeIfChanged(filepath.Join(dir, name), b.String()); err != nil {
			return err
		}
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if !keep[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	st := managerStates(it)
	state := fmt.Sprintf("# This is private data. Do not parse.\nOPER_STATE=%s\nCARRIER_STATE=%s\nADDRESS_STATE=%s\nIPV4_ADDRESS_STATE=%s\nIPV6_ADDRESS_STATE=%s\n",
		st.OperationalState, st.CarrierState, st.AddressState, st.IPv4AddressState, st.IPv6AddressState)
	if st.OnlineState != "" {
		state += "ONLINE_STATE=" + st.OnlineState + "\n"
	}
	if len(allDNS) > 0 {
		state += "DNS=" + strings.Join(allDNS, " ") + "\n"
	}
	return writeIfChanged(filepath.Join(s.root, "run/systemd/netif/state"), state)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeIfChanged(path, content string) error {
	if b, err := os.ReadFile(path); err == nil && string(b) == content {
		return nil
	}
	return atomicfile.Write(path, []byte(content), 0o644)
}

// publishStates keeps the state files current until ctx is done.
func (s *service) publishStates(ctx context.Context, log interface{ Warn(string, ...any) }) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := s.writeStateFiles(); err != nil {
			log.Warn("writing link state files", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
