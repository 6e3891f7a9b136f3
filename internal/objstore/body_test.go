package objstore

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func put(t testing.TB, s *Store, header map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("PUT", "/bkt/key", strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

func sha(s string) string { b := sha256.Sum256([]byte(s)); return hex.EncodeToString(b[:]) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestPutChecksDigests(t *testing.T) {
	s := New(t.TempDir())
	if err := s.CreateBucket("bkt"); err != nil {
		t.Fatal(err)
	}
	md5sum := md5.Sum([]byte("hello"))
	crc := crc32.ChecksumIEEE([]byte("hello"))
	crcB := []byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)}
	chunked := map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
		"X-Amz-Decoded-Content-Length": "5", "X-Amz-Trailer": "x-amz-checksum-crc32"}
	tests := []struct {
		name   string
		header map[string]string
		body   string
		code   string // "" stores the object
	}{
		{"sha256 matches", map[string]string{"X-Amz-Content-Sha256": sha("hello")}, "hello", ""},
		{"sha256 tampered", map[string]string{"X-Amz-Content-Sha256": sha("hello")}, "HELLO", "XAmzContentSHA256Mismatch"},
		{"md5 matches", map[string]string{"Content-MD5": b64(md5sum[:])}, "hello", ""},
		{"md5 tampered", map[string]string{"Content-MD5": b64(md5sum[:])}, "jello", "BadDigest"},
		{"md5 malformed", map[string]string{"Content-MD5": "nope"}, "hello", "InvalidDigest"},
		{"crc32 header tampered", map[string]string{"X-Amz-Checksum-Crc32": b64(crcB)}, "hellO", "BadDigest"},
		{"chunked with trailer", chunked, "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:" + b64(crcB) + "\r\n\r\n", ""},
		{"chunked, trailer tampered", chunked, "5\r\nhellO\r\n0\r\nx-amz-checksum-crc32:" + b64(crcB) + "\r\n\r\n", "BadDigest"},
		{"chunked, truncated in a chunk", chunked, "5\r\nhel", "IncompleteBody"},
		{"chunked, no final chunk", chunked, "5\r\nhello\r\n", "IncompleteBody"},
		{"chunked, wrong decoded length", map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "9"}, "5\r\nhello\r\n0\r\n\r\n", "IncompleteBody"},
		{"crc64nvme refused", map[string]string{"X-Amz-Checksum-Crc64nvme": "AAAAAAAAAAA="}, "hello", "NotImplemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Delete("bkt", "key")
			w := put(t, s, tt.header, tt.body)
			_, err := s.ReadAll("bkt", "key", 100)
			if tt.code == "" {
				if w.Code != 200 || err != nil {
					t.Fatalf("%d %s, %v", w.Code, w.Body, err)
				}
				return
			}
			if !strings.Contains(w.Body.String(), "<Code>"+tt.code+"</Code>") {
				t.Fatalf("%d %s, want %s", w.Code, w.Body, tt.code)
			}
			if !errors.Is(err, ErrNoSuchKey) {
				t.Fatalf("a refused PUT stored the object: %v", err)
			}
		})
	}
}

func TestErrorsHideThePath(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	s.CreateBucket("bkt")
	put(t, s, nil, "x")
	// A key whose parent is a file cannot be created: a file system error.
	req := httptest.NewRequest("PUT", "/bkt/key/child", strings.NewReader("y"))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != 500 || strings.Contains(w.Body.String(), dir) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// FuzzRequestBody feeds arbitrary PUT bodies and framing headers to the S3
// request parser: nothing panics, and whatever is stored is exactly what a
// plain body carried or a well-framed chunked body decodes to.
func FuzzRequestBody(f *testing.F) {
	f.Add("aws-chunked", "5", "5\r\nhello\r\n0\r\n\r\n")
	f.Add("", "", "hello")
	f.Add("aws-chunked", "", "ff;chunk-signature=ab\r\nx\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n")
	f.Add("aws-chunked", "-1", "-5\r\n")
	f.Fuzz(func(t *testing.T, encoding, decodedLength, body string) {
		req, _ := http.NewRequest("PUT", "http://127.0.0.1/bkt/key", bytes.NewReader([]byte(body)))
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		if decodedLength != "" {
			req.Header.Set("X-Amz-Decoded-Content-Length", decodedLength)
		}
		r, _, err := requestBody(req)
		if err != nil {
			return
		}
		got, err := io.ReadAll(io.LimitReader(r, 1<<20))
		if err == nil && !strings.Contains(encoding, "aws-chunked") && string(got) != body {
			t.Fatalf("plain body changed: %q -> %q", body, got)
		}
	})
}
