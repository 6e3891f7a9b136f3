package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsjson"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Defaults of the election: a killed leader is replaced within
// LeaseDuration plus RetryPeriod.
const (
	DefaultLeaseDuration = 10 * time.Second
	DefaultRenewDeadline = 7 * time.Second
	DefaultRetryPeriod   = 1 * time.Second
)

// Options configure an election.
type Options struct {
	Client          kubernetes.Interface
	Namespace, Name string // the Lease
	// URL is how the other replicas reach this one; it is this replica's
	// identity in the Lease (with a suffix unique to the process).
	URL                                       string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Logger                                    *slog.Logger
}

// Elector runs one replica's part in the election.
type Elector struct {
	o  Options
	le *leaderelection.LeaderElector
	id string
}

// New prepares an election; Run takes part in it.
func New(o Options, lead func(ctx context.Context), lost func()) (*Elector, error) {
	if o.LeaseDuration == 0 {
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := url.Parse(o.URL); err != nil || !strings.HasPrefix(o.URL, "http") {
		return nil, fmt.Errorf("the replica URL %q is not an http(s) URL", o.URL)
	}
	e := &Elector{o: o, id: o.URL + "#" + fmt.Sprint(time.Now().UnixNano())}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name},
		Client:     o.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.id},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod,
		ReleaseOnCancel: true, Name: o.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				o.Logger.Info("leading", "lease", o.Name, "identity", e.id)
				lead(ctx)
			},
			OnStoppedLeading: func() {
				o.Logger.Warn("no longer leading", "lease", o.Name)
				lost()
			},
			OnNewLeader: func(id string) {
				if id != e.id {
					o.Logger.Info("following", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return nil, err
	}
	e.le = le
	return e, nil
}

// Run takes part in the election until ctx ends.
func (e *Elector) Run(ctx context.Context) { e.le.Run(ctx) }

// IsLeader reports whether this replica leads now.
func (e *Elector) IsLeader() bool { return e.le.IsLeader() }

// LeaderURL is the URL of the replica that leads now, "" if none is known.
func (e *Elector) LeaderURL() string {
	id := e.le.GetLeader()
	u, _, _ := strings.Cut(id, "#")
	return u
}

// Forwarder sends a follower's API calls to the leader. The request goes
// unchanged (method, path, headers, Host, body), so its SigV4 signature
// stays valid and the leader checks it again.
type Forwarder struct {
	Leader func() string
	Log    *slog.Logger
	proxy  *httputil.ReverseProxy
}

// NewForwarder returns a forwarder to whatever leader() names.
func NewForwarder(leader func() string, log *slog.Logger) *Forwarder {
	f := &Forwarder{Leader: leader, Log: log}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target, _ := url.Parse(pr.In.Context().Value(leaderKey{}).(string))
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // signed
			pr.SetXForwarded()
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute, ResponseHeaderTimeout: 2 * time.Minute},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			unavailable(w, fmt.Sprintf("The leader replica did not answer (%v). Please try again.", err))
		},
	}
	return f
}

type leaderKey struct{}

// ErrNoLeader is the answer while no replica leads.
var ErrNoLeader = errors.New("no ebb replica leads at the moment")

func (f *Forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := f.Leader()
	if target == "" {
		unavailable(w, "No ebb replica leads at the moment (an election is in progress). Please try again.")
		return
	}
	f.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), leaderKey{}, target)))
}

// unavailable answers 503 ServiceUnavailable in the awsJson shape, which
// every AWS SDK reads (and retries).
func unavailable(w http.ResponseWriter, msg string) {
	awsjson.WriteError(w, "application/x-amz-json-1.1", awserr.New("ServiceUnavailable", http.StatusServiceUnavailable, "%s", msg))
}
