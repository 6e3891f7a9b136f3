package router

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// upstream is a pool of keep-alive HTTP/1.1 connections to one instance.
//
// It replaces http.Transport on the hot path: the request is written and the
// response read on the caller's goroutine, with no per-connection read and
// write goroutines to hand off to, and the model timeout is a connection
// deadline rather than a timer. Parsing stays with the standard library
// (http.ReadResponse).
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
	return &conn{Conn: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 16<<10)}, nil
}

func (u *upstream) put(c *conn) {
	c.SetDeadline(time.Time{})
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

// roundTrip sends POST /invocations and reads the response head. The
// response body must be closed; it returns the connection to the pool when
// it was read to the end.
func (u *upstream) roundTrip(ctx context.Context, deadline time.Time, header http.Header, body []byte) (*http.Response, error) {
	c, err := u.get(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := u.exchange(ctx, c, deadline, header, body)
	if err != nil && c.reused && ctx.Err() == nil && !errors.Is(err, errTimeout) {
		// A kept-alive connection the instance had already closed: nothing
		// was processed, so the request goes again on a new connection.
		if c, err = u.dial(ctx); err != nil {
			return nil, err
		}
		resp, err = u.exchange(ctx, c, deadline, header, body)
	}
	return resp, err
}

var errTimeout = errors.New("upstream timeout")

func (u *upstream) exchange(ctx context.Context, c *conn, deadline time.Time, header http.Header, body []byte) (*http.Response, error) {
	c.SetDeadline(deadline)
	// The caller going away interrupts the exchange at once.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
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
	w.WriteString("POST /invocations HTTP/1.1\r\nHost: ")
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
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return fail(err)
	}
	resp.Body = &pooledBody{ReadCloser: resp.Body, u: u, c: c, stop: stop, keep: !resp.Close}
	return resp, nil
}

// pooledBody returns its connection to the pool once read to the end.
type pooledBody struct {
	io.ReadCloser
	u    *upstream
	c    *conn
	stop func() bool
	keep bool
	eof  bool
	done bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
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
		if _, err := io.Copy(io.Discard, io.LimitReader(b.ReadCloser, 64<<10)); err == nil {
			var one [1]byte
			if n, _ := b.ReadCloser.Read(one[:]); n == 0 {
				b.eof = true
			}
		}
	}
	b.ReadCloser.Close()
	if b.stop() && b.keep && b.eof {
		b.u.put(b.c)
	} else {
		b.c.Close()
	}
	return nil
}
