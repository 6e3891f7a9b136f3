package leader

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Defaults of the election. A killed leader is replaced after about
// LeaseDuration plus RetryPeriod, and the new one serves a moment later
// (it fences and resumes hosting): the first call after a kill -9 is
// answered 6.1 s later (median of 10 on a loaded 2-core machine, max
// 6.7 s) against 11.1 s with 10 s, 7 s and 1 s (e2e's BenchmarkHAFailover).
// Shorter is not safer: the leader must renew within RenewDeadline, so an
// API server slower than that for a moment (a loaded control plane) makes
// it step down and restart for nothing; 4 s leaves eight renewal tries.
// LeaseDuration keeps 2 s over RenewDeadline for the deposed leader to
// stop, and is longer than PostgreSQL's idle_in_transaction_session_timeout
// (5 s, store/postgres), so the fencing row a frozen leader held is free
// by the time another replica leads. Kubernetes' own controllers use 15 s,
// 10 s and 2 s; --ha-lease-duration, --ha-renew-deadline and
// --ha-retry-period set them.
const (
	DefaultLeaseDuration = 6 * time.Second
	DefaultRenewDeadline = 4 * time.Second
	DefaultRetryPeriod   = 500 * time.Millisecond
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
	// Changes, if set, is notified each time the leader this replica
	// observes changes.
	Changes *Signal
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
				if o.Changes != nil {
					o.Changes.Notify()
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

// Signal is a broadcast: every channel Wait returned is closed at the next
// Notify. The zero value is ready to use.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns a channel closed at the next Notify.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes every waiter.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
