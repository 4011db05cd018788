package oomd

import (
	"context"
	"os"

	"golang.org/x/sys/unix"
)

// Killer kills a control group with all its descendants and returns how many processes it
// signalled.
type Killer interface {
	Kill(ctx context.Context, cgroup string) (int, error)
}

// kill kills the group (unless oomd runs with --dry-run) and logs it with the reason and the
// numbers behind it (attrs). It reports whether the group counts as dealt with.
func (m *Manager) kill(cgroup, reason string, attrs ...any) bool {
	if m.dryRun {
		m.log.Info("dry run: would kill the control group and all its descendants",
			append([]any{"cgroup", cgroup, "reason", reason}, attrs...)...)
		return true
	}
	n, err := m.killer.Kill(context.Background(), cgroup)
	if err != nil {
		m.log.Warn("cannot kill control group, ignoring", "cgroup", cgroup, "reason", reason, "err", err)
		return false
	}
	if n == 0 {
		m.log.Info("nothing killed in control group", "cgroup", cgroup, "reason", reason)
		return false
	}
	m.log.Warn("killed control group", append([]any{"cgroup", cgroup, "reason", reason, "processes", n}, attrs...)...)
	return true
}

// cgroupKiller kills through the cgroup tree: the prekill hooks first, user.oomd_ooms + 1,
// then SIGKILL to the whole subtree (cgroup.kill on a real cgroup2 tree, else every pid of
// every cgroup.procs), then user.oomd_kill + the number of processes.
type cgroupKiller struct{ m *Manager }

func (k *cgroupKiller) Kill(ctx context.Context, cgroup string) (int, error) {
	m := k.m
	m.prekill(ctx, cgroup)
	if err := m.fs.AddXAttr(cgroup, "user.oomd_ooms", 1); err != nil {
		m.log.Debug("cannot count the OOM in user.oomd_ooms", "cgroup", cgroup, "err", err)
	}
	pids := map[int]bool{}
	m.walkProcs(cgroup, 0, pids)
	n := 0
	if f, ok := m.fs.killFile(cgroup); ok {
		if err := os.WriteFile(f, []byte("1"), 0); err != nil {
			return 0, err
		}
		n = len(pids)
	} else {
		self := os.Getpid()
		for pid := range pids {
			if pid == 1 || pid == self {
				continue
			}
			if signal(pid, unix.SIGKILL) {
				m.log.Debug("sent SIGKILL", "pid", pid, "cgroup", cgroup)
				n++
			}
		}
	}
	if n > 0 {
		if err := m.fs.AddXAttr(cgroup, "user.oomd_kill", uint64(n)); err != nil {
			m.log.Debug("cannot count the kill in user.oomd_kill", "cgroup", cgroup, "err", err)
		}
	}
	return n, nil
}

// walkProcs collects the pids of p and its descendants.
func (m *Manager) walkProcs(p string, depth int, pids map[int]bool) {
	if depth > maxDepth {
		return
	}
	ps, _ := m.fs.Procs(p)
	for _, pid := range ps {
		pids[pid] = true
	}
	kids, _ := m.fs.Children(p)
	for _, c := range kids {
		m.walkProcs(c, depth+1, pids)
	}
}
