package fetch

import (
	"compress/bzip2"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Decompressor selects the decompressor for a file name by its suffix: .xz, .gz, .zst or
// .bz2 (the four formats upstream's importer handles). stripped is the name without that
// suffix. Other names get the identity, with stripped equal to name. Upstream recognises the
// format by the data's magic bytes instead; a compressed file without its suffix is
// therefore installed as it is here.
func Decompressor(name string) (stripped string, open func(io.Reader) (io.ReadCloser, error)) {
	switch {
	case strings.HasSuffix(name, ".xz"):
		return strings.TrimSuffix(name, ".xz"), func(r io.Reader) (io.ReadCloser, error) {
			zr, err := xz.NewReader(r)
			if err != nil {
				return nil, err
			}
			return io.NopCloser(zr), nil
		}
	case strings.HasSuffix(name, ".gz"):
		return strings.TrimSuffix(name, ".gz"), func(r io.Reader) (io.ReadCloser, error) {
			return gzip.NewReader(r)
		}
	case strings.HasSuffix(name, ".zst"):
		return strings.TrimSuffix(name, ".zst"), func(r io.Reader) (io.ReadCloser, error) {
			zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			return zr.IOReadCloser(), nil
		}
	case strings.HasSuffix(name, ".bz2"):
		return strings.TrimSuffix(name, ".bz2"), func(r io.Reader) (io.ReadCloser, error) {
			return io.NopCloser(bzip2.NewReader(r)), nil
		}
	default:
		return name, func(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(r), nil }
	}
}
