package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// front serves h on a loopback listener through the fasthttp front.
func front(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFront(func() http.Handler { return h }, nil)
	go f.Serve(ln)
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

// TestFrontConvertsRequests: what a net/http handler sees through the
// front is what net/http's server would give it: method, path, query,
// Host, canonical header names with every value, the body, its length.
func TestFrontConvertsRequests(t *testing.T) {
	url := front(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Amzn-SageMaker-Custom-Attributes", r.Header.Get("X-Amzn-SageMaker-Custom-Attributes"))
		w.Header()["X-Multi"] = r.Header.Values("X-Multi")
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "%s %s %s %s %d %q %v", r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.ContentLength, b, r.Header["Host"] == nil)
	}))
	req, _ := http.NewRequest("PUT", url+"/bucket/a%20key?x=1", strings.NewReader("hello"))
	req.Header.Set("x-amzn-sagemaker-custom-attributes", "trace=1")
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	host := strings.TrimPrefix(url, "http://")
	if want := fmt.Sprintf(`PUT /bucket/a key x=1 %s 5 "hello" true`, host); resp.StatusCode != http.StatusTeapot || string(b) != want {
		t.Fatalf("got %d %q, want 418 %q", resp.StatusCode, b, want)
	}
	if got := resp.Header.Get("X-Amzn-SageMaker-Custom-Attributes"); got != "trace=1" {
		t.Fatalf("custom attributes came back as %q", got)
	}
	if got := resp.Header.Values("X-Multi"); len(got) != 2 {
		t.Fatalf("repeated header: %v", got)
	}
}

// TestFrontNoBody: a GET without Content-Length has no body (http.NoBody,
// length 0), as net/http gives it; a proxy that forwards it (a follower's
// console) must not read a body stream that is not there.
func TestFrontNoBody(t *testing.T) {
	url := front(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %v %q %v", r.ContentLength, r.Body == http.NoBody, b, err)
	}))
	for _, method := range []string{"GET", "DELETE"} {
		req, _ := http.NewRequest(method, url+"/console/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != `0 true "" <nil>` {
			t.Fatalf("%s without a body: %s", method, b)
		}
	}
}

// TestFrontBodyDeadline: the handler's read deadline (set through
// http.ResponseController, as readBody does) applies to a body that
// trickles in; a body left unread closes the connection after the answer.
func TestFrontBodyDeadline(t *testing.T) {
	url := front(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := io.ReadAll(r.Body)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "RequestTimeout")
			return
		}
		io.WriteString(w, "whole")
	}))
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n{")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || string(b) != "RequestTimeout" || !resp.Close {
		t.Fatalf("a slow body: %d %q (close %v)", resp.StatusCode, b, resp.Close)
	}
}

// TestFrontStreams: a GET answer the handler flushes reaches the client
// while the handler still runs (it waits for the client to have read the
// first part).
func TestFrontStreams(t *testing.T) {
	read := make(chan struct{})
	url := front(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		select {
		case <-read:
			io.WriteString(w, "second\n")
		case <-time.After(5 * time.Second):
			io.WriteString(w, "the first part was held back\n")
		}
	}))
	resp, err := http.Get(url + "/object")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, _ := br.ReadString('\n')
	close(read)
	if line != "first\n" {
		t.Fatalf("first part %q", line)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "second\n" {
		t.Fatalf("rest %q", rest)
	}
}

// TestFrontHead: a HEAD answer keeps the length the handler declares
// (HeadObject's Content-Length is the object's), and sends no body.
func TestFrontHead(t *testing.T) {
	url := front(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "12345")
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusOK)
	}))
	resp, err := http.Head(url + "/bucket/key")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 12345 || resp.Header.Get("ETag") != `"x"` {
		t.Fatalf("HEAD: %d, length %d, %v", resp.StatusCode, resp.ContentLength, resp.Header)
	}
}

// TestFrontStreamsWithLength: a flushed answer keeps its declared length.
func TestFrontStreamsWithLength(t *testing.T) {
	const n = 2 << 20
	url := front(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(n))
		w.WriteHeader(http.StatusPartialContent)
		http.NewResponseController(w).Flush()
		w.Write(make([]byte, n))
	}))
	resp, err := http.Get(url + "/bucket/key")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || resp.ContentLength != n || len(b) != n {
		t.Fatalf("GET: %d, length %d, %d bytes, %v", resp.StatusCode, resp.ContentLength, len(b), resp.Header)
	}
}

// TestFrontRefusedBody: an answer given without reading a large body
// reaches a client still sending it (the connection lingers, then closes).
func TestFrontRefusedBody(t *testing.T) {
	url := front(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "too large")
	}))
	resp, err := http.Post(url+"/endpoints/e/invocations", "text/csv", bytes.NewReader(make([]byte, 7<<20)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || string(b) != "too large" || !resp.Close {
		t.Fatalf("got %d %q (close %v)", resp.StatusCode, b, resp.Close)
	}
}

// FuzzFrontRequest: whatever request line, header and body a client
// sends, the front answers (fasthttp's error or the handler's) and keeps
// serving; the handler sees a request net/http could have given it.
func FuzzFrontRequest(f *testing.F) {
	f.Add("POST", "/endpoints/e/invocations", "X-Amzn-SageMaker-Custom-Attributes", "a=1", []byte("1,2,3"))
	f.Add("GET", "/bucket/key?list-type=2", "Range", "bytes=0-1", []byte(nil))
	f.Add("PUT", "//x/../y?%zz", "Transfer-Encoding", "chunked", []byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add("HEAD", "*", "Content-Length", "-1", []byte("x"))
	url := front(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL == nil || r.Header == nil || r.Body == nil {
			w.WriteHeader(599) // an incomplete request
			return
		}
		// As readBody does: a body that does not arrive ends the read.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	f.Fuzz(func(t *testing.T, method, target, name, value string, body []byte) {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: h\r\n%s: %s\r\nContent-Length: %d\r\n\r\n", method, target, name, value, len(body))
		c.Write(body)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			t.Fatalf("no answer to %q %q: %v", method, target, err)
		case err == nil && resp.StatusCode == 599:
			t.Fatalf("the handler got an incomplete request for %q %q", method, target)
		}
		health, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatalf("the front stopped serving: %v", err)
		}
		health.Body.Close()
	})
}

// TestFrontStreamsLargeAnswers: an answer larger than streamFrom streams
// without the handler flushing (an S3 object is never held whole).
func TestFrontStreamsLargeAnswers(t *testing.T) {
	read := make(chan struct{})
	url := front(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 2*streamFrom))
		select {
		case <-read:
			io.WriteString(w, "end")
		case <-time.After(5 * time.Second):
			io.WriteString(w, "held back")
		}
	}))
	resp, err := http.Get(url + "/bucket/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 2*streamFrom)); err != nil {
		t.Fatal(err)
	}
	close(read)
	if rest, _ := io.ReadAll(resp.Body); string(rest) != "end" {
		t.Fatalf("after the large part: %q", rest)
	}
}

// FuzzRequestURL checks that the fast path of requestURL parses request
// targets exactly as url.ParseRequestURI does.
func FuzzRequestURL(f *testing.F) {
	for _, s := range []string{"/endpoints/my-ep/invocations", "/?Action=DescribeAlarms&Version=2010-08-01", "/a?", "/a%20b", "/a b", "*", "http://h/x", "/x?y#z", "/b/k.txt?x-id=GetObject", "/~a_b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		got, err := requestURL(uri)
		want, werr := url.ParseRequestURI(uri)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: error %v, url.ParseRequestURI's %v", uri, err, werr)
		}
		// DeepEqual: User is a pointer, which two parses never share.
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %#v, url.ParseRequestURI's %#v", uri, got, want)
		}
	})
}
