package headerconv

import (
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"
)

// maxPairs bounds the headers collected on the stack; more take the slow
// path of a growing slice.
const maxPairs = 32

// Response copies an instance's answer headers, less Transfer-Encoding
// (as http.ReadResponse does: the body is already decoded).
func Response(fh *fasthttp.ResponseHeader) http.Header {
	var buf [maxPairs][2][]byte
	pairs := buf[:0]
	for k, v := range fh.All() {
		if string(k) != "Transfer-Encoding" {
			pairs = append(pairs, [2][]byte{k, v})
		}
	}
	return header(pairs)
}

// Request copies a received request's headers, less Host (net/http keeps it
// in Request.Host) and Transfer-Encoding (in Request.TransferEncoding).
func Request(fh *fasthttp.RequestHeader) http.Header {
	var buf [maxPairs][2][]byte
	pairs := buf[:0]
	for k, v := range fh.All() {
		if s := string(k); s != "Host" && s != "Transfer-Encoding" {
			pairs = append(pairs, [2][]byte{k, v})
		}
	}
	return header(pairs)
}

// header builds an http.Header of pairs, whose names are kept as given:
// fasthttp's normalised names are net/http's canonical ones.
func header(pairs [][2][]byte) http.Header {
	size := 0
	for _, p := range pairs {
		size += len(p[0]) + len(p[1])
	}
	var b strings.Builder
	b.Grow(size)
	for _, p := range pairs {
		b.Write(p[0])
		b.Write(p[1])
	}
	s := b.String()
	h := make(http.Header, len(pairs))
	values := make([]string, len(pairs))
	at := 0
	for i, p := range pairs {
		name := s[at : at+len(p[0])]
		at += len(p[0])
		value := s[at : at+len(p[1])]
		at += len(p[1])
		if vs, ok := h[name]; ok {
			h[name] = append(vs, value) // a repeated name: its slice grows apart
			continue
		}
		values[i] = value
		h[name] = values[i : i+1 : i+1]
	}
	return h
}
