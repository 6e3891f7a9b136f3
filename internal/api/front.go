package api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/headerconv"
	"github.com/valyala/fasthttp"
)

// Front is ebb's one listener: a fasthttp server in front of the net/http
// handler of the APIs. net/http's server costs each request a background
// read goroutine, per-request buffers and its header parsing; fasthttp
// reuses them per connection (bench/invoke, against nginx in the same run:
// 15-18 % more invocations per second than with net/http's server).
//
// Every request is converted here: its strings copied out of fasthttp's
// buffers (the async queue and the forwarder keep some), its body streamed
// from the connection under the handler's own limits and read deadline.
// Those that answer in one piece (POST, PUT, DELETE, HEAD: every AWS call,
// InvokeEndpoint included) are served on the connection's goroutine, their
// answer buffered and written by fasthttp. Those whose answer may stream
// (GET: S3 objects, /metrics; InvokeEndpointWithResponseStream) are served
// on a goroutine of their own, and once the handler flushes (or has written
// more than 1 MiB), the rest of the answer streams through a pipe, with the
// length it declared if any.
// (fasthttp's own net/http adaptor reads bodies whole, and drops the
// declared length of an answer once it is flushed.)
//
// One thing net/http did that this does not: a request's context is not
// cancelled when its client goes away mid-request (fasthttp does not watch
// the connection while the handler runs); an invocation then runs to its
// end or its model timeout.
type Front struct {
	server  *fasthttp.Server
	handler func() http.Handler
	log     *slog.Logger
}

// NewFront serves what handler returns at each request (it changes when a
// replica starts leading). Request headers must arrive within 10 s and
// 64 KiB; connections idle for 2 minutes are closed.
func NewFront(handler func() http.Handler, logger *slog.Logger) *Front {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &Front{handler: handler, log: logger}
	f.server = &fasthttp.Server{
		Handler:     f.serve,
		ReadTimeout: 10 * time.Second, // the headers; bodies get the handler's deadline
		IdleTimeout: 2 * time.Minute,
		// Headers beyond it are answered 431, as net/http's MaxHeaderBytes.
		ReadBufferSize: 64 << 10,
		// Bodies are streamed to the handler after their first byte, so
		// that its limits, in-flight budget and read deadline apply.
		StreamRequestBody:             true,
		MaxRequestBodySize:            1,
		DisablePreParseMultipartForm:  true,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false, // convert relies on net/http's canonical names
		CloseOnShutdown:               true,
		Logger:                        fasthttpLogger{logger},
	}
	return f
}

// Serve accepts connections on ln until Shutdown.
func (f *Front) Serve(ln net.Listener) error { return f.server.Serve(ln) }

// Shutdown stops accepting, lets requests in flight finish within ctx and
// closes the connections.
func (f *Front) Shutdown(ctx context.Context) error { return f.server.ShutdownWithContext(ctx) }

func (f *Front) serve(ctx *fasthttp.RequestCtx) {
	r, err := convert(ctx)
	if err != nil {
		ctx.Error("malformed request target", fasthttp.StatusBadRequest)
		return
	}
	if streams(ctx) {
		f.serveStreaming(ctx, r)
	} else {
		f.serveBuffered(ctx, r)
	}
	if b, ok := r.Body.(*body); ok && !b.eof {
		// A body left unread (refused, too large, too slow) is not
		// drained: the connection closes after the answer, as net/http's
		// does. When much of it is still to come, the connection first
		// lingers half-closed, so that the client reads the answer before
		// the reset its unread bytes would cause.
		ctx.SetConnectionClose()
		if (r.ContentLength < 0 || r.ContentLength-b.n > lingerFrom) && !ctx.Response.IsBodyStream() {
			// fasthttp closes at once after an answer with Connection:
			// close, so the answer is written here.
			resp := new(fasthttp.Response)
			ctx.Response.CopyTo(resp)
			raw := ctx.Conn()
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(c net.Conn) {
				bw := bufio.NewWriter(c)
				if resp.Write(bw) == nil && bw.Flush() == nil {
					lingerClose(raw)
				}
			})
		}
	}
}

// lingerFrom is the unread body beyond which a connection lingers before
// it closes (net/http drains up to as much).
const lingerFrom = 256 << 10

// serveBuffered serves r on the connection's goroutine. Its context is
// the background one: nothing cancels it, as nothing would before the
// handler returns (see Front), and without a Done channel the upstream
// exchange registers no cancellation per request.
func (f *Front) serveBuffered(ctx *fasthttp.RequestCtx, r *http.Request) {
	w := &bufferedWriter{ctx: ctx, head: head{header: make(http.Header, 4), conn: ctx.Conn()}}
	defer func() {
		if p := recover(); p != nil {
			f.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", p)
			ctx.ResetBody()
			w.header, w.status = http.Header{}, http.StatusInternalServerError
		}
		w.finish()
	}()
	f.handler().ServeHTTP(w, r)
}

// serveStreaming serves r on a goroutine of its own: the answer is
// buffered until the handler flushes, then streams.
func (f *Front) serveStreaming(ctx *fasthttp.RequestCtx, r *http.Request) {
	w := &streamWriter{head: head{header: make(http.Header, 4), conn: ctx.Conn()}, flushed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		rctx, cancel := context.WithCancel(context.Background())
		defer func() {
			if p := recover(); p != nil {
				f.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", p)
				if w.pw == nil {
					w.buf.Reset()
					w.header, w.status = http.Header{}, http.StatusInternalServerError
				}
			}
			if w.pw != nil {
				w.pw.Close()
			}
			cancel()
			close(done)
		}()
		f.handler().ServeHTTP(w, r.WithContext(rctx))
	}()
	select {
	case <-done:
	case <-w.flushed:
	}
	if w.pr == nil { // answered in one piece
		bw := &bufferedWriter{ctx: ctx, head: w.head}
		ctx.Write(w.buf.Bytes())
		bw.finish()
		return
	}
	bw := &bufferedWriter{ctx: ctx, head: head{header: w.sent, status: w.status}}
	bw.finish()
	n := -1 // chunked, each part as the handler wrote it
	if v, err := strconv.Atoi(w.sent.Get("Content-Length")); err == nil && v >= 0 {
		n = v
	}
	ctx.Response.SetBodyStream(w.pr, n)
}

// streamWriter is the http.ResponseWriter of an answer that may stream.
type streamWriter struct {
	head
	buf     bytes.Buffer // the answer until the first flush
	sent    http.Header  // the header as it was at the first flush
	pr      *io.PipeReader
	pw      *io.PipeWriter
	flushed chan struct{}
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.pw == nil && w.buf.Len()+len(p) > streamFrom {
		w.Flush() // a large answer (an S3 object) is not held whole
	}
	if w.pw != nil {
		return w.pw.Write(p)
	}
	return w.buf.Write(p)
}

// streamFrom is how much of an answer is held before it streams unasked.
const streamFrom = 1 << 20

// Flush starts streaming: what was written so far goes first.
func (w *streamWriter) Flush() {
	w.WriteHeader(http.StatusOK)
	if w.pw != nil {
		return
	}
	w.sent = w.header.Clone()
	w.pr, w.pw = io.Pipe()
	close(w.flushed)
	if w.buf.Len() > 0 {
		w.pw.Write(w.buf.Bytes())
	}
}

// lingerClose half-closes a connection whose request body was left unread
// and discards what still arrives for a moment before fasthttp closes it,
// as net/http's server does.
func lingerClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.Copy(io.Discard, io.LimitReader(c, 8<<20))
}

// body is a request body streamed from the connection; it remembers
// whether it was read to its end.
type body struct {
	r   io.Reader
	n   int64 // read so far
	eof bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *body) Close() error { return nil }

// streams tells the requests whose answers may stream.
func streams(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() {
		return true
	}
	p := ctx.Path()
	return ctx.IsPost() && bytes.HasPrefix(p, []byte("/endpoints/")) && bytes.HasSuffix(p, []byte("/invocations-response-stream"))
}

// convert builds the net/http request of ctx, with strings of its own.
func convert(ctx *fasthttp.RequestCtx) (*http.Request, error) {
	uri := string(ctx.RequestURI())
	u, err := requestURL(uri)
	if err != nil {
		return nil, err
	}
	r := &http.Request{
		Method: method(ctx.Method()), URL: u, RequestURI: uri,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host: string(ctx.Host()), RemoteAddr: ctx.RemoteAddr().String(),
		Header: headerconv.Request(&ctx.Request.Header),
	}
	if !ctx.Request.Header.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	switch n := ctx.Request.Header.ContentLength(); {
	case n > 0:
		r.ContentLength = int64(n)
		r.Body = &body{r: ctx.RequestBodyStream()}
	case n == -1: // chunked
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
		r.Body = &body{r: ctx.RequestBodyStream()}
	default: // none: no Content-Length (fasthttp's -2) or 0
		r.Body = http.NoBody
	}
	return r, nil
}

// requestURL parses a request target as url.ParseRequestURI does. A path
// of unreserved characters only (every AWS path ebb serves: endpoint names
// are letters, digits and hyphens) has nothing to unescape, so it is taken
// as it is, with its query, without the general parser's allocations.
func requestURL(uri string) (*url.URL, error) {
	path, query, _ := strings.Cut(uri, "?")
	if path == "" || path[0] != '/' {
		return url.ParseRequestURI(uri)
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
			return url.ParseRequestURI(uri)
		}
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c < ' ' || c == 0x7f || c == '#' {
			return url.ParseRequestURI(uri)
		}
	}
	return &url.URL{Path: path, RawQuery: query, ForceQuery: query == "" && len(path) < len(uri)}, nil
}

// method returns the common methods without allocating.
func method(b []byte) string {
	for _, m := range [...]string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodGet, http.MethodHead} {
		if string(b) == m {
			return m
		}
	}
	return string(b)
}

// bufferedWriter is the http.ResponseWriter of a request answered in one
// piece: fasthttp writes the status, headers and body after the handler.
type bufferedWriter struct {
	ctx *fasthttp.RequestCtx
	head
}

// head is an answer's status and header, as the handler sets them, and
// the connection its request body is read from.
type head struct {
	header http.Header
	status int
	conn   net.Conn
}

func (h *head) Header() http.Header { return h.header }

func (h *head) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (w *bufferedWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.ctx.Write(p)
}

// ReadFrom copies an answer into the body through a pooled buffer (io.Copy
// would allocate 32 KiB per request).
func (w *bufferedWriter) ReadFrom(r io.Reader) (int64, error) {
	w.WriteHeader(http.StatusOK)
	buf := copyPool.Get().(*[]byte)
	defer copyPool.Put(buf)
	return io.CopyBuffer(writerOnly{w.ctx}, r, *buf)
}

// writerOnly hides ReadFrom from io.CopyBuffer.
type writerOnly struct{ io.Writer }

var copyPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// SetReadDeadline is the body read deadline (http.ResponseController).
func (h *head) SetReadDeadline(t time.Time) error { return h.conn.SetReadDeadline(t) }

func (w *bufferedWriter) finish() {
	w.WriteHeader(http.StatusOK)
	w.ctx.SetStatusCode(w.status)
	for k, vs := range w.header {
		if k == "Content-Length" {
			// fasthttp's, of the body written; a HEAD answer's is the
			// handler's (HeadObject's is the object's length).
			if n, err := strconv.Atoi(w.header.Get(k)); err == nil && w.ctx.IsHead() {
				w.ctx.Response.Header.SetContentLength(n)
				w.ctx.Response.SkipBody = true
			}
			continue
		}
		for _, v := range vs {
			w.ctx.Response.Header.Add(k, v)
		}
	}
	if w.header.Get("Connection") == "close" {
		w.ctx.SetConnectionClose()
	}
}

type fasthttpLogger struct{ l *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.l.Debug("http server", "detail", fmt.Sprintf(format, args...))
}
