// Package fetch is sysupdate's network and verification layer: resumable HTTP downloads,
// SHA256SUMS parsing, detached OpenPGP signatures and decompression by file suffix.
//
// Download fetches into a temporary "partial" file that the caller names and later renames
// into place only after checking its hash, which Download computes while it writes (see
// hashPipe); an interrupted download resumes from the bytes
// already there, with an HTTP Range request guarded by If-Range, so a server whose file
// changed in between sends the whole new file instead of a mix.
//
// Resume state: beside the partial data Download keeps the response's validator (its strong
// ETag, else its Last-Modified date) and the URL it came from, as the extended attribute
// user.stead.validator of the partial file, or, on file systems without user xattrs (tmpfs
// before Linux 6.6, some network file systems), in a sidecar file PARTIAL.validator. A
// partial file without a validator, or with one recorded for another URL, is never resumed.
// Finish drops the state before the caller renames a verified file into place (the xattr
// would otherwise travel with it); Discard removes a partial file and its state.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// copyBufferSize is the write size to the partial file, and how often progress is reported.
const copyBufferSize = 1 << 20

// ErrContentRange means a server answered a resume request with a range other than the one
// asked for; the partial file is left as it was.
var ErrContentRange = errors.New("fetch: server answered with a wrong Content-Range")

// Download downloads url into partialPath and returns the number of bytes in it and their
// SHA-256 once the whole body has arrived (a body shorter than the server announced is an error, with the
// bytes kept for a resume). If partialPath holds data from an earlier attempt at the same
// URL with a recorded validator, only the rest is requested (Range: bytes=N-, If-Range);
// a 200 answer (a server without ranges, or a changed file) starts over from byte 0, and a
// 206 answer for another range is ErrContentRange. progress, if not nil, is called with the
// bytes in the file so far and the total (-1 when the server does not say). The file is
// fsynced before Download returns, also on errors, so what it holds survives for a resume.
//
// The SHA-256 covers the whole file as written: for a resumed download the bytes already
// there are hashed first (read back once, before the rest arrives), then every new chunk as
// it is written. It is only meaningful when err is nil.
//
// The partial file never claims completeness: only the returned error says whether the
// download finished, and the caller must compare the returned SHA-256 with the manifest's
// before renaming the file.
func Download(ctx context.Context, c *http.Client, url, partialPath string, progress func(done, total int64)) (n int64, sum [32]byte, err error) {
	if c == nil {
		c = http.DefaultClient
	}
	f, err := os.OpenFile(partialPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, sum, fmt.Errorf("fetch: %w", err)
	}
	defer func() {
		if serr := f.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("fetch: syncing %s: %w", partialPath, serr)
		}
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("fetch: %w", cerr)
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return 0, sum, fmt.Errorf("fetch: %w", err)
	}
	have := st.Size()
	validator := ""
	if have > 0 {
		if v, u, ok := readValidator(f, partialPath); ok && u == url {
			validator = v
		}
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, sum, fmt.Errorf("fetch: %w", err)
	}
	// identity: a transparently decompressed body would make byte ranges meaningless.
	req.Header.Set("Accept-Encoding", "identity")
	if validator != "" {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		req.Header.Set("If-Range", validator)
	}
	resp, err := c.Do(req)
	if err != nil {
		return have, sum, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()

	var offset, total int64
	switch {
	case resp.StatusCode == http.StatusPartialContent && validator != "":
		start, end, size, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != have || end < start {
			return have, sum, fmt.Errorf("%w: asked for bytes %d-, got %q", ErrContentRange, have, resp.Header.Get("Content-Range"))
		}
		if size >= 0 && end != size-1 {
			return have, sum, fmt.Errorf("%w: asked for bytes %d- of the file, got %q", ErrContentRange, have, resp.Header.Get("Content-Range"))
		}
		if v := responseValidator(resp); v != "" && v != validator {
			return have, sum, fmt.Errorf("fetch: %s: resumed response has validator %s, expected %s", url, v, validator)
		}
		offset, total = have, size
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && validator != "":
		// If-Range matched, so this is the same file and it is no longer than what we have.
		if _, _, size, err := parseContentRange(resp.Header.Get("Content-Range")); err == nil && size == have {
			hp := newHashPipe()
			err := hp.hashExisting(f, have)
			sum = hp.finish()
			if err != nil {
				return have, sum, err
			}
			if progress != nil {
				progress(have, have)
			}
			return have, sum, nil
		}
		// More bytes than the server's file has: they cannot be trusted. Start over; the
		// emptied file has no validator, so the second call sends a plain GET.
		if err := restart(f, partialPath); err != nil {
			return 0, sum, err
		}
		resp.Body.Close()
		return Download(ctx, c, url, partialPath, progress)
	case resp.StatusCode == http.StatusOK:
		// A fresh download: no usable partial data, a server ignoring Range, or a changed file.
		if err := restart(f, partialPath); err != nil {
			return 0, sum, err
		}
		if v := responseValidator(resp); v != "" {
			if err := writeValidator(f, partialPath, v, url); err != nil {
				return 0, sum, err
			}
		}
		offset, total = 0, resp.ContentLength
	default:
		return have, sum, fmt.Errorf("fetch: %s: %s", url, resp.Status)
	}

	hp := newHashPipe()
	defer func() {
		if err != nil {
			hp.finish() // stop the hashing goroutine; the sum of a failed download is moot
		}
	}()
	if err := hp.hashExisting(f, offset); err != nil {
		return offset, sum, err
	}
	if progress != nil {
		progress(offset, total)
	}
	off, err := hp.copy(f, offset, resp.Body, total, progress)
	if err != nil {
		return off, sum, fmt.Errorf("fetch: %s: after %d bytes: %w", url, off, err)
	}
	if total >= 0 && off != total {
		return off, sum, fmt.Errorf("fetch: %s: got %d of %d bytes: %w", url, off, total, io.ErrUnexpectedEOF)
	}
	return off, hp.finish(), nil
}

// restart empties the partial file and forgets its validator, durably, before new data is
// written, so a crash never pairs old bytes with a new validator.
func restart(f *os.File, partialPath string) error {
	if err := clearValidator(f, partialPath); err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

// responseValidator is the validator If-Range may carry: a strong ETag, else Last-Modified.
// Weak ETags (W/"…") cannot be used with If-Range.
func responseValidator(resp *http.Response) string {
	if et := resp.Header.Get("ETag"); strings.HasPrefix(et, `"`) && len(et) >= 2 && strings.HasSuffix(et, `"`) {
		return et
	}
	return resp.Header.Get("Last-Modified")
}

// parseContentRange parses "bytes START-END/SIZE"; size is -1 for "*". An unsatisfied-range
// answer ("bytes */SIZE") gives start = end = -1.
func parseContentRange(s string) (start, end, size int64, err error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, fmt.Errorf("Content-Range %q", s)
	}
	rng, sz, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, fmt.Errorf("Content-Range %q", s)
	}
	size = -1
	if sz != "*" {
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size < 0 {
			return 0, 0, 0, fmt.Errorf("Content-Range %q", s)
		}
	}
	if rng == "*" {
		return -1, -1, size, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, fmt.Errorf("Content-Range %q", s)
	}
	if start, err = strconv.ParseInt(a, 10, 64); err != nil || start < 0 {
		return 0, 0, 0, fmt.Errorf("Content-Range %q", s)
	}
	if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
		return 0, 0, 0, fmt.Errorf("Content-Range %q", s)
	}
	return start, end, size, nil
}
