#!/bin/bash
# Installs what the VM harness (integration/vm) needs, when missing:
#   qemu-system-x86_64 (qemu-system-x86), a static /bin/busybox (busybox-static), socat
#   (guestfwd cmd:), swtpm and swtpm_setup (swtpm, swtpm-tools), and the Debian cloud kernel,
#   extracted into ${STEAD_VM_CACHE:-/var/cache/stead/kernel}:
#     root/boot/vmlinuz-VER, root/lib/modules/VER/, and VER in ./version.
# Needs root and Debian's archive. Safe to run again (does nothing then) and concurrently
# (flock). Prints the cache directory on success; apt's output goes to stderr on failure.
set -euo pipefail

cache=${STEAD_VM_CACHE:-/var/cache/stead/kernel}
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

log=$(mktemp)
work=
trap 'rm -f "$log"; [ -z "$work" ] || rm -rf "$work"' EXIT
run() {
	if ! DEBIAN_FRONTEND=noninteractive "$@" >>"$log" 2>&1; then
		cat "$log" >&2
		echo "prereqs.sh: failed: $*" >&2
		exit 1
	fi
}
updated=0
apt_update() {
	[ "$updated" = 1 ] || run apt-get update
	updated=1
}

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
command -v socat >/dev/null || missing+=(socat)
command -v swtpm >/dev/null || missing+=(swtpm)
command -v swtpm_setup >/dev/null || missing+=(swtpm-tools)
if [ ${#missing[@]} -gt 0 ]; then
	apt_update
	run apt-get install -y --no-install-recommends "${missing[@]}"
fi

ver=$(cat "$cache/version" 2>/dev/null || true)
if [ -z "$ver" ] || [ ! -f "$cache/root/boot/vmlinuz-$ver" ] || [ ! -f "$cache/root/lib/modules/$ver/modules.order" ]; then
	apt_update
	work=$(mktemp -d "$cache/.work.XXXXXX")
	chmod 0755 "$work" # apt-get download drops to _apt
	(cd "$work" && run apt-get download linux-image-cloud-amd64)
	meta=$(ls "$work"/linux-image-cloud-amd64_*.deb)
	# The metapackage depends on the real one: "linux-image-6.1.0-NN-cloud-amd64 (= …)".
	pkg=$(dpkg-deb -f "$meta" Depends | tr ',|' '\n\n' |
		sed -n 's/^ *\(linux-image-[0-9][^ ]*-cloud-amd64\).*/\1/p' | head -n1)
	if [ -z "$pkg" ]; then
		echo "prereqs.sh: no kernel package in the Depends of $(basename "$meta")" >&2
		exit 1
	fi
	(cd "$work" && run apt-get download "$pkg")
	ver=${pkg#linux-image-}
	dpkg-deb -x "$work/$pkg"_*.deb "$work/root"
	[ -f "$work/root/boot/vmlinuz-$ver" ] || { echo "prereqs.sh: no boot/vmlinuz-$ver in $pkg" >&2; exit 1; }
	chmod 0644 "$work/root/boot/vmlinuz-$ver"
	rm -rf "$cache/root"
	mv "$work/root" "$cache/root"
	echo "$ver" >"$cache/version"
fi
echo "$cache"
