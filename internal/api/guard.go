package api

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/sigv4"
)

// Admission is what ebb checks before it reads a request's body. Browsers
// are the threat it is shaped for: a web page a developer visits can send
// form posts to 127.0.0.1 (CSRF) and, through DNS rebinding, any request
// with its own Host. Neither can set an Authorization header on a form, and
// a rebound request carries the attacker's Host.
type Admission struct {
	// AllowedHosts are the Host values served besides loopback names and
	// addresses when no Verifier is configured: names ("ebb.internal") or
	// host:port pairs. With a Verifier the signature binds the Host and any
	// Host is served.
	AllowedHosts []string
	// MaxInflightBytes bounds the request bytes held in memory at once
	// across all requests; 0 means no bound.
	MaxInflightBytes int64

	inflight atomic.Int64
}

// forbidden is the refusal every protocol gets (each in its own shape).
func forbidden(format string, args ...any) *awserr.Error {
	e := awserr.New("AccessDeniedException", http.StatusForbidden, format, args...)
	e.QueryCode = "AccessDenied"
	return e
}

// checkOrigin refuses requests a browser sends on behalf of another site.
// ebb's own pages (the console) are same-origin: their Origin is the Host.
func checkOrigin(r *http.Request) *awserr.Error {
	// A person following a link from another site (to the console): a
	// top-level GET navigation changes nothing, no other site can read its
	// answer, and it carries no Authorization, which every API call needs.
	if r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		return nil
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return forbidden("Cross-site requests from web pages are refused (Sec-Fetch-Site: %s). Call ebb from an AWS SDK, the AWS CLI or boto3.", site)
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "http://"+r.Host || origin == "https://"+r.Host {
		return nil
	}
	return forbidden("Requests from web pages of another origin are refused (Origin: %s). Call ebb from an AWS SDK, the AWS CLI or boto3.", origin)
}

// hostAllowed reports whether host (a Host header, with or without port)
// is a loopback name or address, or one of the allowed hosts.
func (a *Admission) hostAllowed(host string) bool {
	// The common case first: the Host is the listen address itself.
	for _, allowed := range a.AllowedHosts {
		if allowed == host {
			return true
		}
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	if ip := net.ParseIP(name); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, allowed := range a.AllowedHosts {
		if strings.EqualFold(allowed, host) || strings.EqualFold(allowed, name) {
			return true
		}
	}
	return false
}

// checkUnsigned admits a request to a server without credentials: a
// loopback or allowed Host, and (on the APIs) an Authorization header or
// presigned query of SigV4's shape. No secret is checked; the shape keeps
// browser forms out.
func (a *Admission) checkUnsigned(r *http.Request, api bool) *awserr.Error {
	if !a.hostAllowed(r.Host) {
		return forbidden("Host %q is not served: without --credentials ebb answers only requests addressed to a loopback name or address (localhost, 127.0.0.1, [::1]) or to a name given with --allowed-host. Start the server with --allowed-host %s if that name is meant to reach it, or with --credentials.", r.Host, r.Host)
	}
	if !api {
		return nil
	}
	_, e := sigv4.Parse(r) // a header, or a presigned URL's query
	if e == nil || e.Code != "MissingAuthenticationTokenException" {
		return e
	}
	e.Message = "Missing Authentication Token: sign requests with SigV4 as every AWS SDK, the AWS CLI and boto3 do (without --credentials any access key and secret are accepted)."
	return e
}

// reserve takes n bytes of the in-flight budget; false when they would not
// fit. Each successful reserve is paired with a release of the same n.
func (a *Admission) reserve(n int64) bool {
	if a.MaxInflightBytes <= 0 {
		return true
	}
	if a.inflight.Add(n) > a.MaxInflightBytes {
		a.inflight.Add(-n)
		return false
	}
	return true
}

func (a *Admission) release(n int64) {
	if a.MaxInflightBytes > 0 {
		a.inflight.Add(-n)
	}
}

func throttled() *awserr.Error {
	e := awserr.New("ThrottlingException", http.StatusServiceUnavailable,
		"The server holds as many request bytes as --max-inflight-bytes allows; retry with backoff.")
	e.QueryCode = "Throttling"
	return e
}

func tooLarge(limit int64, service string) *awserr.Error {
	e := awserr.New("RequestEntityTooLargeException", http.StatusRequestEntityTooLarge,
		"Request body is larger than the %d bytes %s accepts.", limit, service)
	e.QueryCode = "RequestEntityTooLarge"
	return e
}
