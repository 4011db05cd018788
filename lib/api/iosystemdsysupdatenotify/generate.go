// Package iosystemdsysupdatenotify holds the io.systemd.SysUpdate.Notify interface, which
// sysupdate calls on every socket in /run/systemd/sysupdate/notify/ after an update: its IDL
// (systemd 262's, as bootctl serves it) and the Go code generated from it.
package iosystemdsysupdatenotify

//go:generate go tool varlink-go-interface-generator io.systemd.SysUpdate.Notify.varlink
