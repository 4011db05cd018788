package fetch

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// hashPipeBuffers is how many chunks may be written but not yet hashed: enough for the
// hashing goroutine to lag a little behind the network without stalling it.
const hashPipeBuffers = 4

// hashPipe computes the SHA-256 of a download while it is being written: the receiving
// goroutine reads a chunk from the network, writes it to the partial file and hands it to a
// hashing goroutine, then goes on with the next chunk in another buffer. Receiving, writing
// and hashing thus overlap, and the payload is never read back from disk to be hashed (but
// for the part an earlier, interrupted attempt left, which is read once before the rest).
//
// A chunk is hashed exactly as it was handed to WriteAt, so the sum is that of the bytes the
// file was given; a short or failed write ends the download with an error.
type hashPipe struct {
	h    hash.Hash
	work chan []byte // chunks to hash, in file order
	free chan []byte // buffers hashed and free for the next chunk
	done chan struct{}
	sum  [32]byte
	fin  bool
}

func newHashPipe() *hashPipe {
	p := &hashPipe{h: sha256.New(), work: make(chan []byte, hashPipeBuffers),
		free: make(chan []byte, hashPipeBuffers), done: make(chan struct{})}
	for range hashPipeBuffers {
		p.free <- make([]byte, copyBufferSize)
	}
	go func() {
		defer close(p.done)
		for b := range p.work {
			p.h.Write(b)
			p.free <- b[:cap(b)]
		}
	}()
	return p
}

// hashExisting hashes the first n bytes of f: the part of a resumed download already there.
func (p *hashPipe) hashExisting(f *os.File, n int64) error {
	for off := int64(0); off < n; {
		buf := <-p.free
		buf = buf[:min(int64(len(buf)), n-off)]
		m, err := f.ReadAt(buf, off)
		if m != len(buf) {
			p.free <- buf[:cap(buf)]
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("fetch: reading the partial download to hash it: %w", err)
		}
		p.work <- buf
		off += int64(m)
	}
	return nil
}

// copy writes r to f from offset off on, in chunks of copyBufferSize (a short read is
// completed first, so writes stay large), hashing each chunk written. It returns the offset
// reached: every byte read is written before an error is returned, so it can be resumed.
func (p *hashPipe) copy(f *os.File, off int64, r io.Reader, total int64, progress func(done, total int64)) (int64, error) {
	for {
		buf := <-p.free
		n, rerr := fill(r, buf)
		if n > 0 {
			w, werr := f.WriteAt(buf[:n], off)
			off += int64(w)
			if werr == nil && w < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				p.free <- buf
				return off, werr
			}
			p.work <- buf[:n]
			if progress != nil {
				progress(off, total)
			}
		} else {
			p.free <- buf
		}
		if rerr == io.EOF {
			return off, nil
		}
		if rerr != nil {
			return off, rerr
		}
	}
}

// fill reads into buf until it is full or r fails; io.EOF means r ended.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// finish waits for every chunk to be hashed and returns the sum; it may be called again.
func (p *hashPipe) finish() [32]byte {
	if !p.fin {
		p.fin = true
		close(p.work)
		<-p.done
		copy(p.sum[:], p.h.Sum(nil))
	}
	return p.sum
}
