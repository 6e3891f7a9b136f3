package objstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// requestBody returns a PutObject body that decodes aws-chunked framing
// and, as it reaches the end, checks every digest the client declared: the
// signed X-Amz-Content-Sha256, Content-MD5 and the x-amz-checksum-*
// headers or trailers. A body that does not match them, or ends early,
// reads as an error instead of io.EOF, so Put never stores it. declared
// holds the request's headers and, once the body is read, its trailers.
func requestBody(r *http.Request) (body io.Reader, declared http.Header, err error) {
	verify, _ := r.Context().Value(chunkVerifierKey{}).(func(string, []byte) bool)
	declared = r.Header.Clone()
	body = io.Reader(r.Body)
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") || strings.HasPrefix(payloadHash, "STREAMING-") {
		size := int64(-1)
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, nil, &Error{"InvalidArgument", http.StatusBadRequest, fmt.Sprintf("x-amz-decoded-content-length %q is not a length.", v)}
			}
			size = n
		}
		body = &chunkedReader{br: bufio.NewReader(r.Body), trailers: declared, size: size, verify: verify}
	}
	d := &digestReader{r: body}
	if h := payloadHash; len(h) == 64 {
		want, err := hex.DecodeString(h)
		if err != nil {
			return nil, nil, &Error{"InvalidArgument", http.StatusBadRequest, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a SHA-256 in hex."}
		}
		d.add(sha256.New(), func() []byte { return want }, &Error{"XAmzContentSHA256Mismatch", http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."})
	}
	if v := r.Header.Get("Content-MD5"); v != "" {
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != md5.Size {
			return nil, nil, &Error{"InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified was invalid."}
		}
		d.add(md5.New(), func() []byte { return want }, &Error{"BadDigest", http.StatusBadRequest, "The Content-MD5 you specified did not match what we received."})
	}
	for _, c := range []struct {
		name string
		new  func() hash.Hash
	}{
		{"CRC32", func() hash.Hash { return crc32.NewIEEE() }},
		{"CRC32C", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
		{"SHA1", sha1.New},
		{"SHA256", sha256.New},
	} {
		header := "X-Amz-Checksum-" + strings.ToLower(c.name)
		header = http.CanonicalHeaderKey(header)
		if r.Header.Get(header) == "" && !strings.Contains(strings.ToLower(r.Header.Get("X-Amz-Trailer")), strings.ToLower(header)) {
			continue
		}
		d.add(c.new(), func() []byte {
			b, _ := base64.StdEncoding.DecodeString(declared.Get(header))
			return b
		}, &Error{"BadDigest", http.StatusBadRequest, fmt.Sprintf("The %s you specified did not match the calculated checksum.", c.name)})
	}
	if v := r.Header.Get("X-Amz-Checksum-Crc64nvme"); v != "" || strings.Contains(strings.ToLower(r.Header.Get("X-Amz-Trailer")), "crc64nvme") {
		return nil, nil, &Error{"NotImplemented", http.StatusNotImplemented, "x-amz-checksum-crc64nvme is not supported by ebb's object store; use CRC32, CRC32C, SHA1 or SHA256."}
	}
	return d, declared, nil
}

type chunkVerifierKey struct{}

// WithChunkVerifier returns a context under which a PutObject's aws-chunked
// body has every chunk checked by verify (its chunk-signature and data)
// before any of it is stored.
func WithChunkVerifier(ctx context.Context, verify func(signature string, chunk []byte) bool) context.Context {
	return context.WithValue(ctx, chunkVerifierKey{}, verify)
}

// MaxSignedChunk bounds a signed chunk, which is held whole until its
// signature is checked (clients send 64 KiB to 8 MiB).
const MaxSignedChunk = 16 << 20

// digestReader hashes what it reads and, at the end, turns io.EOF into the
// error of the first digest that does not match.
type digestReader struct {
	r      io.Reader
	checks []digestCheck
}

type digestCheck struct {
	h    hash.Hash
	want func() []byte // read at the end: a trailer arrives after the data
	err  error
}

func (d *digestReader) add(h hash.Hash, want func() []byte, err error) {
	d.checks = append(d.checks, digestCheck{h, want, err})
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	for _, c := range d.checks {
		c.h.Write(p[:n])
	}
	if err == io.EOF {
		for _, c := range d.checks {
			if !bytes.Equal(c.h.Sum(nil), c.want()) {
				return n, c.err
			}
		}
	}
	return n, err
}

// chunkedReader decodes aws-chunked bodies ("size;chunk-signature=...\r\n
// data\r\n ... 0\r\n trailers\r\n\r\n"), which S3 clients send for
// streaming uploads. Trailers go into trailers; a body that ends before its
// final chunk, or whose decoded size is not the declared one, is an error.
type chunkedReader struct {
	br       *bufio.Reader
	trailers http.Header
	size     int64 // X-Amz-Decoded-Content-Length, or -1
	read     int64
	left     int64
	done     bool
	// verify, when set, checks each chunk's signature; the chunk is then
	// read whole into buf and served from there.
	verify func(signature string, chunk []byte) bool
	buf    []byte
}

func incomplete(format string, args ...any) error {
	return &Error{"IncompleteBody", http.StatusBadRequest, "aws-chunked body: " + fmt.Sprintf(format, args...)}
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		line, err := c.br.ReadString('\n')
		if err != nil {
			return 0, incomplete("the body ended before its final 0-length chunk")
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue // the CRLF after a chunk's data
		}
		sizeHex, ext, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || n < 0 {
			return 0, incomplete("bad chunk header %q", line)
		}
		if c.verify != nil {
			if err := c.verifyChunk(n, strings.TrimPrefix(ext, "chunk-signature=")); err != nil {
				return 0, err
			}
			if n > 0 {
				return c.Read(p)
			}
		}
		if n == 0 {
			c.done = true
			if err := c.readTrailers(); err != nil {
				return 0, err
			}
			if c.size >= 0 && c.read != c.size {
				return 0, incomplete("decoded %d bytes, x-amz-decoded-content-length says %d", c.read, c.size)
			}
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	c.read += int64(n)
	if err == io.EOF {
		return n, incomplete("the body ended inside a chunk")
	}
	return n, err
}

// verifyChunk reads a chunk of n bytes whole and checks its signature.
func (c *chunkedReader) verifyChunk(n int64, signature string) error {
	if n > MaxSignedChunk {
		return incomplete("a signed chunk of %d bytes is larger than the %d ebb accepts", n, MaxSignedChunk)
	}
	chunk := make([]byte, n)
	if _, err := io.ReadFull(c.br, chunk); err != nil {
		return incomplete("the body ended inside a chunk")
	}
	if !c.verify(signature, chunk) {
		return &Error{"SignatureDoesNotMatch", http.StatusForbidden, "The chunk signature we calculated does not match the signature you provided in the aws-chunked body."}
	}
	c.read += n
	c.buf = chunk
	return nil
}

// readTrailers reads "name:value" lines up to the blank line or the end.
func (c *chunkedReader) readTrailers() error {
	for {
		line, err := c.br.ReadString('\n')
		line = strings.TrimSpace(line)
		if name, value, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(strings.ToLower(name), "x-amz-trailer-signature") {
			c.trailers.Set(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		if err == io.EOF || (err == nil && line == "") {
			return nil
		}
		if err != nil {
			return incomplete("reading trailers: %v", err)
		}
	}
}
