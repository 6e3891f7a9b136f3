package router

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/headerconv"
	"github.com/valyala/fasthttp"
)

// upstream is a pool of keep-alive HTTP/1.1 connections to one instance.
//
// It replaces http.Transport on the hot path: the request is written and the
// response read on the caller's goroutine, with no per-connection read and
// write goroutines to hand off to, and the model timeout is a connection
// deadline rather than a timer. The answer's head is parsed by fasthttp's
// parser, whose buffers each connection keeps (http.ReadResponse allocates
// a dozen times per answer), and chunked bodies decoded by net/http's.
type upstream struct {
	addr    string
	host    string // Host header
	maxIdle int

	mu   sync.Mutex
	idle []*conn // most recently used last
}

type conn struct {
	net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	head   fasthttp.ResponseHeader
	body   io.LimitedReader // an answer's body of a known length
	reused bool
}

// errDial marks a request that never reached the instance.
type errDial struct{ err error }

func (e errDial) Error() string { return "dial: " + e.err.Error() }
func (e errDial) Unwrap() error { return e.err }

var dialer = net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}

func newUpstream(addr string) *upstream {
	return &upstream{addr: addr, host: addr, maxIdle: 1024}
}

func (u *upstream) get(ctx context.Context) (*conn, error) {
	u.mu.Lock()
	if n := len(u.idle); n > 0 {
		c := u.idle[n-1]
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		return c, nil
	}
	u.mu.Unlock()
	return u.dial(ctx)
}

func (u *upstream) dial(ctx context.Context) (*conn, error) {
	nc, err := dialer.DialContext(ctx, "tcp", u.addr)
	if err != nil {
		return nil, errDial{err}
	}
	c := &conn{Conn: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 16<<10)}
	c.head.SetNoDefaultContentType(true) // an answer without one has none
	return c, nil
}

// put keeps c for the next request, which sets its deadline anew.
func (u *upstream) put(c *conn) {
	c.reused = true
	u.mu.Lock()
	if len(u.idle) < u.maxIdle {
		u.idle = append(u.idle, c)
		u.mu.Unlock()
		return
	}
	u.mu.Unlock()
	c.Close()
}

// closeIdle closes every idle connection (the instance is gone).
func (u *upstream) closeIdle() {
	u.mu.Lock()
	idle := u.idle
	u.idle = nil
	u.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// roundTrip sends POST path and reads the response head. The
// response body must be closed; it returns the connection to the pool when
// it was read to the end.
func (u *upstream) roundTrip(ctx context.Context, deadline time.Time, path string, header http.Header, body []byte) (*http.Response, error) {
	c, err := u.get(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := u.exchange(ctx, c, deadline, path, header, body)
	if err != nil && c.reused && ctx.Err() == nil && !errors.Is(err, errTimeout) {
		// A kept-alive connection the instance had already closed: nothing
		// was processed, so the request goes again on a new connection.
		if c, err = u.dial(ctx); err != nil {
			return nil, err
		}
		resp, err = u.exchange(ctx, c, deadline, path, header, body)
	}
	return resp, err
}

var errTimeout = errors.New("upstream timeout")

func (u *upstream) exchange(ctx context.Context, c *conn, deadline time.Time, path string, header http.Header, body []byte) (*http.Response, error) {
	c.SetDeadline(deadline)
	// The caller going away interrupts the exchange at once.
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	}
	fail := func(err error) (*http.Response, error) {
		stop()
		c.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, errTimeout
		}
		return nil, err
	}
	w := c.bw
	w.WriteString("POST ")
	w.WriteString(path)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(u.host)
	w.WriteString("\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	w.WriteString("\r\n")
	for k, vs := range header {
		for _, v := range vs {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	w.WriteString("\r\n")
	w.Write(body)
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	resp, rb, err := c.readResponse()
	if err != nil {
		return fail(err)
	}
	resp.Body = &pooledBody{r: rb, u: u, c: c, stop: stop, keep: !resp.Close}
	return resp, nil
}

// readResponse reads the head of an answer, skipping interim (1xx) ones as
// http.Transport does, and returns it with the reader of its body.
func (c *conn) readResponse() (*http.Response, io.Reader, error) {
	h := &c.head
	for {
		if err := h.Read(c.br); err != nil {
			return nil, nil, err
		}
		if s := h.StatusCode(); s >= 200 || s == http.StatusSwitchingProtocols {
			break
		}
	}
	resp := &http.Response{
		StatusCode: h.StatusCode(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: headerconv.Response(h), Close: h.ConnectionClose(), ContentLength: -1,
	}
	if !h.IsHTTP11() {
		resp.Proto, resp.ProtoMinor = "HTTP/1.0", 0
	}
	resp.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	switch n := h.ContentLength(); {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		resp.ContentLength = 0
		return resp, http.NoBody, nil
	case n >= 0:
		resp.ContentLength = int64(n)
		c.body = io.LimitedReader{R: c.br, N: int64(n)}
		return resp, &c.body, nil
	case n == -1:
		resp.TransferEncoding = []string{"chunked"}
		return resp, &chunked{r: httputil.NewChunkedReader(c.br), br: c.br}, nil
	default: // until the connection closes
		resp.Close = true
		return resp, c.br, nil
	}
}

// chunked is a chunked body that, at its end, also reads the trailer
// section and the empty line that ends it (net/http's chunked reader stops
// at the last chunk), so that the connection is ready for the next answer.
type chunked struct {
	r  io.Reader
	br *bufio.Reader
}

func (c *chunked) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != io.EOF {
		return n, err
	}
	for range 64 { // trailer fields, then the empty line
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return n, io.ErrUnexpectedEOF
		}
		if len(line) <= 2 && strings.TrimRight(string(line), "\r\n") == "" {
			return n, io.EOF
		}
	}
	return n, errors.New("chunked body: too many trailer fields")
}

// pooledBody returns its connection to the pool once read to the end.
type pooledBody struct {
	r    io.Reader
	u    *upstream
	c    *conn
	stop func() bool
	keep bool
	eof  bool
	done bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *pooledBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	if !b.eof {
		// Small leftovers are read so the connection can be kept.
		if _, err := io.Copy(io.Discard, io.LimitReader(b.r, 64<<10)); err == nil {
			var one [1]byte
			if n, _ := b.r.Read(one[:]); n == 0 {
				b.eof = true
			}
		}
	}
	if b.stop() && b.keep && b.eof {
		b.u.put(b.c)
	} else {
		b.c.Close()
	}
	return nil
}
