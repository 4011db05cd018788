// Package notify is a client for the service manager's readiness and
// status protocol (the one behind sd_notify(3)), including the parts that
// need file descriptor passing: the file descriptor store (FDSTORE=1) and
// synchronisation barriers (BARRIER=1).
//
// The manager names its socket in $NOTIFY_SOCKET. Every message is one
// datagram of newline-separated KEY=VALUE assignments sent over AF_UNIX
// SOCK_DGRAM, carrying our credentials (SCM_CREDENTIALS) and, when asked
// to, file descriptors (SCM_RIGHTS). When $NOTIFY_SOCKET is unset every
// send is a no-op that reports (false, nil), so daemons may call these
// functions unconditionally.
//
// The package-level functions read the environment on each call; a
// [Notifier] captures the socket address once, which is what a daemon that
// scrubs its environment before spawning children wants.
package notify
