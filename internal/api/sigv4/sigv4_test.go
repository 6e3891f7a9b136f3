package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ebbscale/ebb/internal/api/awserr"
)

func signed(t *testing.T, secret string, at time.Time, body string) *http.Request {
	t.Helper()
	return signedFor(t, secret, at, body, "sagemaker", "us-east-1", true)
}

func signedFor(t *testing.T, secret string, at time.Time, body, service, region string, target bool) *http.Request {
	t.Helper()
	r, _ := http.NewRequest("POST", "http://127.0.0.1:8080/", bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target {
		r.Header.Set("X-Amz-Target", "SageMaker.ListModels")
	}
	sum := sha256.Sum256([]byte(body))
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret},
		r, hex.EncodeToString(sum[:]), service, region, at)
	if !target {
		r.Header.Set("X-Amz-Target", "SageMaker.DeleteModel") // added after signing
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// verify checks a SageMaker request as the server does: Check before the
// body is read, then Verify over it.
func verify(v *Verifier, r *http.Request, body []byte) *awserr.Error {
	a, e := v.Check(r, "sagemaker")
	if e != nil {
		return e
	}
	return v.Verify(r, a, body)
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	v := New(map[string]string{"AKIDEXAMPLE": "secret"})
	v.Now = func() time.Time { return now }
	v.Region = "us-east-1"
	tests := []struct {
		name string
		req  *http.Request
		body string
		code string
	}{
		{"good", signed(t, "secret", now, "{}"), "{}", ""},
		{"wrong secret", signed(t, "other", now, "{}"), "{}", "InvalidSignatureException"},
		{"tampered body", signed(t, "secret", now, "{}"), `{"x":1}`, "InvalidSignatureException"},
		{"expired", signed(t, "secret", now.Add(-10*time.Minute), "{}"), "{}", "InvalidSignatureException"},
		{"other region", signedFor(t, "secret", now, "{}", "sagemaker", "eu-west-1", true), "{}", "InvalidSignatureException"},
		{"other service", signedFor(t, "secret", now, "{}", "monitoring", "us-east-1", true), "{}", "InvalidSignatureException"},
		{"target not signed", signedFor(t, "secret", now, "{}", "sagemaker", "us-east-1", false), "{}", "InvalidSignatureException"},
		{"unsigned", func() *http.Request { r, _ := http.NewRequest("POST", "http://127.0.0.1:8080/", nil); return r }(), "", "MissingAuthenticationTokenException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(v, tt.req, []byte(tt.body))
			switch {
			case tt.code == "" && err != nil:
				t.Fatalf("unexpected %v", err)
			case tt.code != "" && (err == nil || err.Code != tt.code):
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
	unknown := New(map[string]string{"OTHER": "secret"})
	unknown.Now = v.Now
	if err := verify(unknown, signed(t, "secret", now, "{}"), []byte("{}")); err == nil || err.Code != "UnrecognizedClientException" {
		t.Fatalf("unknown key: got %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"lines": "# comment\nAKID1 secret1\nAKID2:secret2\n",
		"json":  `{"AKID1":"secret1","AKID2":"secret2"}`,
		"list":  `[{"AccessKeyId":"AKID1","SecretAccessKey":"secret1"},{"AccessKeyId":"AKID2","SecretAccessKey":"secret2"}]`,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		got, err := LoadFile(p)
		if err != nil || len(got) != 2 || got["AKID2"] != "secret2" {
			t.Errorf("%s: %v, %v", name, got, err)
		}
	}
	p := filepath.Join(dir, "bad")
	os.WriteFile(p, []byte("only-one-field\n"), 0o600)
	if _, err := LoadFile(p); err == nil {
		t.Error("bad file: want an error")
	}
}

// FuzzParse: any Authorization header is parsed or refused with an
// authentication error, never a panic; what parses has all its parts.
func FuzzParse(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/sagemaker/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=, Signature=")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, auth string) {
		r, _ := http.NewRequest("POST", "http://127.0.0.1/", nil)
		r.Header.Set("Authorization", auth)
		a, e := Parse(r)
		if e == nil && (a.AccessKey == "" || a.Signature == "" || len(a.SignedHeaders) == 0) {
			t.Fatalf("%q parsed to %+v", auth, a)
		}
		if e != nil && e.Status != 400 && e.Status != 403 {
			t.Fatalf("%q: %v", auth, e)
		}
	})
}

// presigned returns a URL presigned by the SDK's presigner, as S3's
// presign client builds it (X-Amz-Expires in the query, UNSIGNED-PAYLOAD,
// the path signed as sent).
func presigned(t *testing.T, method, secret string, at time.Time, expires int) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(method, "http://127.0.0.1:8080/bucket/some%20key.txt?X-Amz-Expires="+strconv.Itoa(expires)+"&x-id=GetObject", nil)
	signedURL, headers, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret},
		r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", at, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	out, _ := http.NewRequest(method, signedURL, nil)
	for k, vs := range headers {
		out.Header[k] = vs
	}
	return out
}

func TestVerifyPresigned(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	v := New(map[string]string{"AKIDEXAMPLE": "secret"})
	v.Now = func() time.Time { return now }
	v.Region = "us-east-1"
	tamper := func(r *http.Request, f func(q url.Values)) *http.Request {
		q := r.URL.Query()
		f(q)
		r.URL.RawQuery = q.Encode()
		return r
	}
	for _, c := range []struct {
		name string
		r    *http.Request
		code string // "" accepted
	}{
		{"GET", presigned(t, "GET", "secret", now.Add(-time.Minute), 900), ""},
		{"PUT", presigned(t, "PUT", "secret", now, 60), ""},
		{"signed an hour ago for a week", presigned(t, "GET", "secret", now.Add(-time.Hour), 604800), ""},
		{"wrong secret", presigned(t, "GET", "other", now, 900), "InvalidSignatureException"},
		{"expired", presigned(t, "GET", "secret", now.Add(-16*time.Minute), 900), "AccessDeniedException"},
		{"not yet valid", presigned(t, "GET", "secret", now.Add(10*time.Minute), 900), "AccessDeniedException"},
		{"longer than a week", presigned(t, "GET", "secret", now, 604801), "IncompleteSignatureException"},
		{"another method", func() *http.Request { r := presigned(t, "GET", "secret", now, 900); r.Method = "DELETE"; return r }(), "InvalidSignatureException"},
		{"expiry stretched", tamper(presigned(t, "GET", "secret", now.Add(-16*time.Minute), 900), func(q url.Values) { q.Set("X-Amz-Expires", "3600") }), "InvalidSignatureException"},
		{"another key", func() *http.Request {
			r := presigned(t, "GET", "secret", now, 900)
			r.URL.Path = "/bucket/other.txt"
			return r
		}(), "InvalidSignatureException"},
		{"a parameter added", tamper(presigned(t, "GET", "secret", now, 900), func(q url.Values) { q.Set("response-content-type", "text/html") }), "InvalidSignatureException"},
		{"no signature", tamper(presigned(t, "GET", "secret", now, 900), func(q url.Values) { q.Del("X-Amz-Signature") }), "IncompleteSignatureException"},
		{"unknown key", tamper(presigned(t, "GET", "secret", now, 900), func(q url.Values) {
			q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), "AKIDEXAMPLE", "AKIDOTHER", 1))
		}), "UnrecognizedClientException"},
		{"SigV2", func() *http.Request {
			r, _ := http.NewRequest("GET", "http://127.0.0.1:8080/bucket/k?AWSAccessKeyId=AKIDEXAMPLE&Expires=1800000000&Signature=abc%3D", nil)
			return r
		}(), "IncompleteSignatureException"},
		{"nothing", func() *http.Request { r, _ := http.NewRequest("GET", "http://127.0.0.1:8080/bucket/k", nil); return r }(), "MissingAuthenticationTokenException"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, e := v.Check(c.r, "s3")
			if e == nil {
				e = v.Verify(c.r, a, nil)
			}
			switch {
			case c.code == "" && e != nil:
				t.Fatalf("refused: %v", e)
			case c.code != "" && (e == nil || e.Code != c.code):
				t.Fatalf("got %v, want %s", e, c.code)
			}
			if c.name == "SigV2" && !strings.Contains(e.Message, "Signature Version 2") {
				t.Errorf("SigV2 refusal does not say why: %s", e.Message)
			}
		})
	}
}
