package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsjson"
)

// ForwardedHeader marks a call one replica forwards to another: a replica
// that receives one but does not serve as the leader answers at once that
// it is not the leader (NotLeaderHeader) rather than forwarding it again,
// so a call never goes round in a loop between replicas with stale views
// of the Lease.
const (
	ForwardedHeader = "X-Ebb-Forwarded-By"
	NotLeaderHeader = "X-Ebb-Not-Leader"
)

// retryEvery is how often a held call tries the leader again when the
// Lease has not changed (a leader that was killed keeps its name in the
// Lease until it expires; one that leads but does not serve yet says so).
const retryEvery = 250 * time.Millisecond

// Forwarder sends a follower's API calls to the leader. The request goes
// unchanged (method, path, headers, Host, body), so its SigV4 signature
// stays valid and the leader checks it again.
//
// A call is held, not failed, while there is no leader to take it (an
// election in progress, a leader killed whose Lease has not expired yet, a
// new leader not serving yet), up to Hold, and goes to the leader as soon
// as there is one: the leaderless gap of a failover is then a slower
// answer, not an error that a client with default retry settings would
// see. A call that reached a leader (anything but a refused connection or
// a leader that says it no longer leads) is not sent again, unless the
// Lease moved away from that leader while it waited (frozen), and its
// body can be sent again; a second leader writing what a frozen one was
// writing is safe, since the frozen one's writes are fenced off.
type Forwarder struct {
	// Leader is the URL of the replica that leads, "" if none is known.
	Leader func() string
	// Self is this replica's URL: it never forwards to itself.
	Self string
	// Local, once this replica serves as the leader, is its handler: a
	// held call is served here then.
	Local func() http.Handler
	// Changes returns a channel closed at the next change of the leader
	// or of Local.
	Changes func() <-chan struct{}
	// Hold bounds how long a call waits for a leader.
	Hold time.Duration
	Log  *slog.Logger

	proxy *httputil.ReverseProxy
}

// NewForwarder returns a forwarder; see Forwarder for the fields.
func NewForwarder(f Forwarder) *Forwarder {
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			a := pr.In.Context().Value(attemptKey{}).(*attempt)
			pr.SetURL(a.target)
			pr.Out.Host = pr.In.Host // signed
			pr.SetXForwarded()
			pr.Out.Header.Set(ForwardedHeader, f.Self)
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute, ResponseHeaderTimeout: 2 * time.Minute,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext},
		ModifyResponse: func(resp *http.Response) error {
			if resp.Header.Get(NotLeaderHeader) != "" {
				return errNotLeader
			}
			return nil
		},
		// Nothing is written: ServeHTTP decides whether to try again.
		ErrorHandler: func(_ http.ResponseWriter, r *http.Request, err error) {
			r.Context().Value(attemptKey{}).(*attempt).err = err
		},
	}
	return &f
}

var errNotLeader = errors.New("the replica no longer leads")

type attemptKey struct{}

// attempt is one try at the leader.
type attempt struct {
	target *url.URL
	err    error
}

func (f *Forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(ForwardedHeader) != "" && f.Local() == nil {
		// Sent by a replica that believes this one leads: it holds the
		// call and tries again.
		w.Header().Set(NotLeaderHeader, f.Self)
		fail(w, r, "This ebb replica does not lead (any more). Please try again.")
		return
	}
	deadline := time.NewTimer(f.Hold)
	defer deadline.Stop()
	var last error // of the last try at a leader
	for {
		changed := f.Changes()
		if h := f.Local(); h != nil {
			if last != nil && !rewind(r) {
				fail(w, r, "The leader changed while this call was in flight. Please try again.")
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		if target := f.Leader(); target != "" && target != f.Self {
			if last != nil && !rewind(r) {
				fail(w, r, fmt.Sprintf("The leader did not take the call (%v), and its body cannot be sent again. Please try again.", last))
				return
			}
			err := f.try(w, r, target)
			if err == nil || r.Context().Err() != nil {
				return // answered, or the client went away
			}
			var op *net.OpError
			if !errors.Is(err, errNotLeader) && !errors.Is(err, errLeaderMoved) && !(errors.As(err, &op) && op.Op == "dial") {
				f.Log.Warn("forwarding to the leader failed", "leader", target, "err", err)
				fail(w, r, fmt.Sprintf("The leader replica did not answer (%v). Please try again.", err))
				return
			}
			// Not taken by a leader (or by a deposed one, whose writes are
			// fenced off): the next leader may take it.
			last = err
		}
		select {
		case <-changed:
		case <-time.After(retryEvery):
		case <-deadline.C:
			msg := "No ebb replica leads at the moment (an election is in progress). Please try again."
			if last != nil {
				msg = fmt.Sprintf("No ebb replica took the call within %v (last: %v). Please try again.", f.Hold, last)
			}
			fail(w, r, msg)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// rewind makes the call's body ready to be sent again, if it can be (the
// API front keeps the bodies it read; a streamed one cannot).
func rewind(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if r.GetBody == nil {
		return false
	}
	b, err := r.GetBody()
	if err != nil {
		return false
	}
	r.Body = b
	return true
}

var errLeaderMoved = errors.New("the Lease moved to another replica while the call waited for an answer")

// try sends the call to target once; the call is cancelled (and the error
// is errLeaderMoved) if the Lease moves away from target before it
// answers, as it does when that leader is frozen.
func (f *Forwarder) try(w http.ResponseWriter, r *http.Request, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var moved atomic.Bool
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			changed := f.Changes()
			if f.Leader() != target || f.Local() != nil {
				moved.Store(true)
				cancel()
				return
			}
			select {
			case <-changed:
			case <-stop:
				return
			}
		}
	}()
	a := &attempt{target: u}
	f.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, attemptKey{}, a)))
	if a.err != nil && moved.Load() && r.Context().Err() == nil {
		return errLeaderMoved
	}
	return a.err
}

// fail answers 503 ServiceUnavailable (which every AWS SDK retries) in the
// protocol of the request, as the API front passed it (awsJson otherwise).
func fail(w http.ResponseWriter, r *http.Request, msg string) {
	e := awserr.New("ServiceUnavailable", http.StatusServiceUnavailable, "%s", msg)
	if write := awserr.WriterFrom(r.Context()); write != nil {
		write(w, e)
		return
	}
	awsjson.WriteError(w, "application/x-amz-json-1.1", e)
}
