module github.com/stead-os/stead

go 1.26.0

require (
	github.com/ProtonMail/go-crypto v1.5.2
	github.com/elastic/go-seccomp-bpf v1.6.0
	github.com/google/go-tpm v0.9.8
	github.com/insomniacslk/dhcp v0.0.0-20260901064844-234b97448fae
	github.com/klauspost/compress v1.18.7
	github.com/ulikunitz/xz v0.5.17
	github.com/varlink/go v0.4.1-0.20261015173642-c935be0c53f7
	github.com/vishvananda/netlink v1.3.1
	golang.org/x/net v0.55.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/cloudflare/circl v1.6.3 // indirect
	github.com/google/go-tpm-tools v0.4.11 // indirect
	github.com/josharian/native v1.1.0 // indirect
	github.com/mdlayher/packet v1.1.2 // indirect
	github.com/mdlayher/socket v0.4.1 // indirect
	github.com/pierrec/lz4/v4 v4.1.14 // indirect
	github.com/u-root/uio v0.0.0-20230220225925-ffce2a382923 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	golang.org/x/crypto v0.51.0 // indirect
	golang.org/x/sync v0.3.0 // indirect
)

tool github.com/varlink/go/cmd/varlink-go-interface-generator
