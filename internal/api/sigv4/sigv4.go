// Package sigv4 verifies AWS Signature Version 4 on incoming requests with
// the AWS SDK's own signer: the request is rebuilt from the headers the
// client says it signed, signed again with the secret of its access key, and
// the two signatures are compared. No part of the algorithm is restated here.
package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ebbscale/ebb/internal/api/awserr"
)

// MaxSkew is how far a request's X-Amz-Date may be from the server's time.
const MaxSkew = 5 * time.Minute

const amzDate = "20060102T150405Z"

// Verifier checks signatures against a set of access keys.
type Verifier struct {
	secrets map[string]string // access key id -> secret access key
	signer  *v4.Signer
	// Now is the wall clock (signatures are dated in real time, never the
	// scaled clock).
	Now func() time.Time
	// Region is the only region a credential scope may name ("" accepts any).
	Region string
}

// New returns a verifier for the given access key id -> secret pairs.
func New(secrets map[string]string) *Verifier {
	return &Verifier{secrets: secrets, signer: v4.NewSigner(), Now: time.Now}
}

// LoadFile reads credentials: either JSON ({"AKID": "secret"} or a list of
// {"AccessKeyId", "SecretAccessKey"}) or lines of "AKID SECRET" (also
// "AKID:SECRET" or "AKID,SECRET"; # starts a comment).
func LoadFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		if trimmed[0] == '{' {
			if err := json.Unmarshal(trimmed, &out); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		} else {
			var list []struct{ AccessKeyId, SecretAccessKey string }
			if err := json.Unmarshal(trimmed, &list); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			for _, c := range list {
				out[c.AccessKeyId] = c.SecretAccessKey
			}
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ':' || r == ',' })
			if len(f) != 2 {
				return nil, fmt.Errorf("%s:%d: want \"ACCESS_KEY_ID SECRET_ACCESS_KEY\"", path, n)
			}
			out[f[0]] = f[1]
		}
	}
	for id, secret := range out {
		if id == "" || secret == "" {
			return nil, fmt.Errorf("%s: empty access key id or secret", path)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no credentials", path)
	}
	return out, nil
}

// authError is an authentication error with the code awsQuery services
// (CloudWatch) give it.
func authError(code, queryCode string, status int, format string, args ...any) *awserr.Error {
	e := awserr.New(code, status, format, args...)
	e.QueryCode = queryCode
	return e
}

func missing() *awserr.Error {
	return authError("MissingAuthenticationTokenException", "MissingAuthenticationToken", http.StatusForbidden, "Missing Authentication Token")
}

func incomplete(format string, args ...any) *awserr.Error {
	return authError("IncompleteSignatureException", "IncompleteSignature", http.StatusBadRequest, format, args...)
}

func invalid(format string, args ...any) *awserr.Error {
	return authError("InvalidSignatureException", "SignatureDoesNotMatch", http.StatusForbidden, format, args...)
}

const mismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// Authorization is a parsed SigV4 signature: an Authorization header, or
// the query of a presigned URL.
type Authorization struct {
	AccessKey     string
	Date          string // of the scope, YYYYMMDD
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	// When is X-Amz-Date, set by Check.
	When time.Time
	// Presigned: the signature is in the query (X-Amz-Signature), valid
	// for Expires from When, which the query's X-Amz-Date gives (amzDate).
	Presigned bool
	Expires   time.Duration
	amzDate   string
}

// MaxExpires is the longest a presigned URL may be valid, as S3 allows.
const MaxExpires = 7 * 24 * time.Hour

// Parse reads the shape of r's signature: its Authorization header or,
// without one, a presigned URL's query. It needs no secret, so it also tells
// an AWS client from a browser form when no credentials are configured:
// every AWS SDK signs, a form can set neither the header nor a valid query.
func Parse(r *http.Request) (*Authorization, *awserr.Error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return parseQuery(r)
	}
	algo, rest, _ := strings.Cut(auth, " ")
	if algo != "AWS4-HMAC-SHA256" {
		return nil, incomplete("Unsupported signature algorithm %q; sign requests with AWS4-HMAC-SHA256.", algo)
	}
	// Every request carries one: parsed without a map or a split.
	var cred, signedHeaders, signature string
	for rest != "" {
		var p string
		p, rest, _ = strings.Cut(rest, ",")
		switch k, val, _ := strings.Cut(strings.TrimSpace(p), "="); k {
		case "Credential":
			cred = val
		case "SignedHeaders":
			signedHeaders = val
		case "Signature":
			signature = val
		}
	}
	a := scoped(cred, signedHeaders, signature)
	if a == nil {
		return nil, incomplete("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=%s", auth)
	}
	return a, nil
}

// scoped builds an Authorization from a credential and its parts, or nil
// when one is missing or the credential is not a SigV4 scope.
func scoped(cred, signedHeaders, signature string) *Authorization {
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] == "" || signedHeaders == "" || signature == "" || scope[4] != "aws4_request" {
		return nil
	}
	return &Authorization{AccessKey: scope[0], Date: scope[1], Region: scope[2], Service: scope[3],
		SignedHeaders: strings.Split(signedHeaders, ";"), Signature: signature}
}

// parseQuery reads a presigned URL's signature, in S3's words where it is
// malformed. Signature Version 2's query (AWSAccessKeyId, Signature,
// Expires) is refused, saying so.
func parseQuery(r *http.Request) (*Authorization, *awserr.Error) {
	if !strings.Contains(r.URL.RawQuery, "X-Amz-") && !strings.Contains(r.URL.RawQuery, "Signature") {
		return nil, missing() // the common case, without parsing the query
	}
	q := r.URL.Query()
	algo := q.Get("X-Amz-Algorithm")
	switch {
	case algo == "" && q.Get("AWSAccessKeyId") != "" && q.Get("Signature") != "":
		return nil, incomplete("Signature Version 2 (a query of AWSAccessKeyId, Signature and Expires) is not supported; presign URLs with Signature Version 4 (X-Amz-Algorithm=AWS4-HMAC-SHA256), as the AWS SDKs, boto3 and the AWS CLI do.")
	case algo == "":
		return nil, missing()
	case algo != "AWS4-HMAC-SHA256":
		return nil, incomplete("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	a := scoped(q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"))
	if a == nil || q.Get("X-Amz-Date") == "" || q.Get("X-Amz-Expires") == "" {
		return nil, incomplete("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
	}
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	switch {
	case err != nil || secs < 0:
		return nil, incomplete("X-Amz-Expires should be a non-negative number of seconds.")
	case time.Duration(secs)*time.Second > MaxExpires:
		return nil, incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	a.Presigned, a.Expires, a.amzDate = true, time.Duration(secs)*time.Second, q.Get("X-Amz-Date")
	return a, nil
}

// Check does everything that needs no body, before the body is read: the
// header's shape, the access key, the date, the credential scope (this
// server's region, the service the request goes to) and that X-Amz-Target,
// when sent, is signed. A request that fails here costs no body read.
func (v *Verifier) Check(r *http.Request, service string) (*Authorization, *awserr.Error) {
	a, e := Parse(r)
	if e != nil {
		return nil, e
	}
	if _, ok := v.secrets[a.AccessKey]; !ok {
		return nil, authError("UnrecognizedClientException", "InvalidClientTokenId", http.StatusForbidden, "The security token included in the request is invalid.")
	}
	dateStr := r.Header.Get("X-Amz-Date")
	if a.Presigned {
		dateStr = a.amzDate
	}
	when, err := time.Parse(amzDate, dateStr)
	if err != nil {
		return nil, incomplete("Date must be in ISO-8601 'basic format'. Got '%s'.", dateStr)
	}
	now := v.Now().UTC()
	switch {
	case a.Presigned && now.After(when.Add(a.Expires)):
		return nil, authError("AccessDeniedException", "AccessDenied", http.StatusForbidden, "Request has expired: the URL was signed at %s for %d seconds.", dateStr, int(a.Expires.Seconds()))
	case a.Presigned && when.After(now.Add(MaxSkew)):
		return nil, authError("AccessDeniedException", "AccessDenied", http.StatusForbidden, "Request is not yet valid: the URL is signed for %s, later than %s (%s + 5 min.)", dateStr, now.Add(MaxSkew).Format(amzDate), now.Format(amzDate))
	case a.Presigned:
	case when.Before(now.Add(-MaxSkew)):
		return nil, invalid("Signature expired: %s is now earlier than %s (%s - 5 min.)", dateStr, now.Add(-MaxSkew).Format(amzDate), now.Format(amzDate))
	case when.After(now.Add(MaxSkew)):
		return nil, invalid("Signature not yet current: %s is still later than %s (%s + 5 min.)", dateStr, now.Add(MaxSkew).Format(amzDate), now.Format(amzDate))
	}
	if a.Date != when.Format("20060102") {
		return nil, invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.Date, when.Format("20060102"), dateStr)
	}
	if v.Region != "" && a.Region != v.Region {
		return nil, invalid("Credential should be scoped to a valid region. This server serves '%s'.", v.Region)
	}
	if service != "" && a.Service != service {
		return nil, invalid("Credential should be scoped to correct service: '%s'. ", service)
	}
	if r.Header.Get("X-Amz-Target") != "" && !slices.Contains(a.SignedHeaders, "x-amz-target") {
		return nil, invalid("'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return nil, invalid("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	a.When = when
	return a, nil
}

// Verify checks the signature of r, which Check has accepted as a (for the
// service its signing name names: sagemaker, monitoring,
// application-autoscaling, s3), over body, already read; a nil body means
// it was not read, and the declared X-Amz-Content-Sha256 is trusted here and
// checked by the object store as it streams the object to disk.
func (v *Verifier) Verify(r *http.Request, a *Authorization, body []byte) *awserr.Error {
	if a.Presigned {
		return v.verifyPresigned(r, a, body)
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if body != nil || payloadHash == "" {
		sum := sha256.Sum256(body)
		computed := hex.EncodeToString(sum[:])
		switch h := payloadHash; {
		case h == "":
			payloadHash = computed
		case h != "UNSIGNED-PAYLOAD" && !strings.HasPrefix(h, "STREAMING-") && h != computed:
			return invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	}

	again := rebuild(r, r.URL, a)
	creds := aws.Credentials{AccessKeyID: a.AccessKey, SecretAccessKey: v.secrets[a.AccessKey], SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v.signer.SignHTTP(context.Background(), creds, again, payloadHash, a.Service, a.Region, a.When, a.options); err != nil {
		return invalid("%s", mismatch)
	}
	want := again.Header.Get("Authorization")
	i := strings.LastIndex(want, "Signature=")
	if i < 0 || subtle.ConstantTimeCompare([]byte(want[i+len("Signature="):]), []byte(a.Signature)) != 1 {
		return invalid("%s", mismatch)
	}
	return nil
}

// verifyPresigned checks a presigned URL's signature: the URL is presigned
// again, without its X-Amz-Signature, by the SDK's presigner over the same
// query and signed headers (hoisting nothing more: the client already
// hoisted what it did), and the two signatures are compared. S3's URLs sign
// UNSIGNED-PAYLOAD (or the X-Amz-Content-Sha256 they carry); other services'
// sign the body.
func (v *Verifier) verifyPresigned(r *http.Request, a *Authorization, body []byte) *awserr.Error {
	q := r.URL.Query()
	q.Del("X-Amz-Signature")
	payloadHash := q.Get("X-Amz-Content-Sha256")
	switch {
	case payloadHash != "":
	case a.Service == "s3":
		payloadHash = "UNSIGNED-PAYLOAD"
	default:
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	u := *r.URL
	u.RawQuery = q.Encode()
	again := rebuild(r, &u, a)
	creds := aws.Credentials{AccessKeyID: a.AccessKey, SecretAccessKey: v.secrets[a.AccessKey], SessionToken: q.Get("X-Amz-Security-Token")}
	signed, _, err := v.signer.PresignHTTP(context.Background(), creds, again, payloadHash, a.Service, a.Region, a.When, a.options,
		func(o *v4.SignerOptions) { o.DisableHeaderHoisting = true })
	if err != nil {
		return invalid("%s", mismatch)
	}
	_, want, _ := strings.Cut(signed, "X-Amz-Signature=")
	if subtle.ConstantTimeCompare([]byte(want), []byte(a.Signature)) != 1 {
		return invalid("%s", mismatch)
	}
	return nil
}

// options are the signer's options for a's service: S3 signs the path as
// sent, where the other services escape it once more (the SDK's clients do
// the same).
func (a *Authorization) options(o *v4.SignerOptions) {
	o.DisableURIPathEscaping = a.Service == "s3"
}

// rebuild returns r at url with exactly the headers the client signed. (A
// request value, not NewRequest: no URL to format and parse again.)
func rebuild(r *http.Request, url *url.URL, a *Authorization) *http.Request {
	u := *url
	u.Scheme, u.Host = "http", r.Host
	again := (&http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: make(http.Header, len(a.SignedHeaders)+2)}).WithContext(context.Background())
	for _, name := range a.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			again.ContentLength, _ = strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if again.ContentLength == 0 {
				again.ContentLength = r.ContentLength
			}
		default:
			if vals := r.Header.Values(name); len(vals) > 0 {
				again.Header[http.CanonicalHeaderKey(name)] = vals
			}
		}
	}
	return again
}

// ChunkVerifier returns the check of each chunk signature of an aws-chunked
// body signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD (each chunk's
// signature chains from the request's, so chunks can be neither changed nor
// reordered), or nil when r's body is not signed that way. Call it after
// Verify has accepted r as a. The chain is the SDK's own stream signer.
func (v *Verifier) ChunkVerifier(r *http.Request, a *Authorization) func(signature string, chunk []byte) bool {
	if r.Header.Get("X-Amz-Content-Sha256") != "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" {
		return nil
	}
	seed, err := hex.DecodeString(a.Signature)
	if err != nil {
		return func(string, []byte) bool { return false }
	}
	creds := aws.Credentials{AccessKeyID: a.AccessKey, SecretAccessKey: v.secrets[a.AccessKey]}
	signer := v4.NewStreamSigner(creds, a.Service, a.Region, seed)
	return func(signature string, chunk []byte) bool {
		want, err := signer.GetSignature(context.Background(), nil, chunk, a.When)
		got, herr := hex.DecodeString(signature)
		return err == nil && herr == nil && subtle.ConstantTimeCompare(want, got) == 1
	}
}
