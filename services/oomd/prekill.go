package oomd

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/stead-os/stead/lib/api/iosystemdoomprekill"
	"github.com/stead-os/stead/lib/varlinkd"
)

// prekill calls io.systemd.oom.Prekill.Notify on every socket in the prekill hook directory
// and waits for their replies, for PrekillHookTimeoutSec= at most altogether. A timeout of 0
// (the default) calls none.
func (m *Manager) prekill(ctx context.Context, cgroup string) {
	timeout := m.Config().PrekillHookTimeout
	if timeout <= 0 {
		m.log.Debug("no prekill hook timeout configured, skipping the prekill hooks")
		return
	}
	dir := filepath.Join(m.root, iosystemdoomprekill.HookDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		m.log.Debug("no prekill hook directory, ignoring", "dir", dir, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, e := range ents {
		if e.Type()&fs.ModeSocket == 0 {
			continue
		}
		sock := filepath.Join(dir, e.Name())
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.log.Debug("calling prekill hook", "hook", sock, "cgroup", cgroup)
			c, err := varlinkd.Dial(ctx, "unix:"+sock)
			if err != nil {
				m.log.Warn("prekill hook not reachable, ignoring", "hook", sock, "err", err)
				return
			}
			defer c.Close()
			if err := iosystemdoomprekill.NewClient(c).Notify(ctx, cgroup); err != nil {
				m.log.Warn("prekill hook failed, ignoring", "hook", sock, "cgroup", cgroup, "err", err)
				return
			}
			m.log.Debug("prekill hook done", "hook", sock, "cgroup", cgroup)
		}()
	}
	wg.Wait()
}
