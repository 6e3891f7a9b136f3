package headerconv

import (
	"bufio"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestHeaderMatchesNetHTTP(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nx-amzn-sagemaker-custom-attributes: a=1\r\nVary: Accept\r\nVary: Origin\r\nServer: m\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	var fh fasthttp.ResponseHeader
	if err := fh.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	got := Response(&fh)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := resp.Header; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// A value appended to a repeated name does not overwrite its neighbour.
	got["Content-Type"] = append(got["Content-Type"], "x")
	if got.Get("X-Amzn-Sagemaker-Custom-Attributes") != "a=1" {
		t.Fatalf("neighbour overwritten: %v", got)
	}
}

func TestRequestMatchesNetHTTP(t *testing.T) {
	raw := "POST /endpoints/e/invocations HTTP/1.1\r\nHost: h\r\ncontent-type: text/csv\r\nX-Amz-Date: 1\r\nAccept: a\r\nAccept: b\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	var fh fasthttp.RequestHeader
	if err := fh.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Request(&fh), req.Header; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func BenchmarkHeader(b *testing.B) {
	raw := "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nDate: Thu, 03 Dec 2026 12:00:00 GMT\r\nContent-Length: 4\r\n\r\n"
	var fh fasthttp.ResponseHeader
	if err := fh.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Response(&fh)
	}
}
