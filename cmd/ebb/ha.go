package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebbscale/ebb/internal/api"
	"github.com/ebbscale/ebb/internal/api/smruntime"
	"github.com/ebbscale/ebb/internal/emitter"
	"github.com/ebbscale/ebb/internal/leader"
	"github.com/ebbscale/ebb/internal/replica"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/postgres"
	"github.com/prometheus/client_golang/prometheus"
	k8s "k8s.io/client-go/kubernetes"
)

// elect takes part in the leader election of --ha-lease. Until this replica
// leads, current routes invocations straight to the instances (with the
// table the leader publishes; see internal/replica) and forwards every other
// API call to the leader (after admitting it and verifying its signature
// here); once it leads, it raises the store's
// fencing epoch, starts the services and their loops, and serves them. A
// replica that stops leading (or whose write is fenced off) reports on errc
// and the server exits: its pod restarts as a follower, as
// kube-controller-manager's does. stop stops the services, then gives the
// lease up.
func elect(ctx context.Context, c serverConfig, log *slog.Logger, st store.Store, rt runtime.Runtime, reg *prometheus.Registry,
	front apiFront, current *atomic.Pointer[http.Handler], errc chan<- error) (stop func(), err error) {
	pg, ok := st.(*postgres.Postgres)
	if !ok {
		return nil, errors.New("--ha-lease needs --store postgres://...")
	}
	cluster, ok := c.Runtimes[c.Runtime].(interface {
		Cluster() (k8s.Interface, string, error)
	})
	if !ok {
		return nil, fmt.Errorf("--ha-lease: --runtime %s names no Kubernetes cluster to hold the Lease in", c.Runtime)
	}
	client, ns, err := cluster.Cluster()
	if err != nil {
		return nil, fmt.Errorf("--ha-lease: %w", err)
	}
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	// A follower routes invocations itself, with the table the leader
	// publishes, and sends what it measured to the leader.
	var el *leader.Elector
	var changes leader.Signal
	var serving atomic.Pointer[http.Handler] // the leader's handler, once this replica serves
	forward := leader.NewForwarder(leader.Forwarder{
		Leader: func() string { return el.LeaderURL() },
		Self:   c.AdvertiseURL,
		Local: func() http.Handler {
			if h := serving.Load(); h != nil {
				return *h
			}
			return nil
		},
		Changes: changes.Wait,
		// A call waits out a killed leader's Lease, the election and the
		// new leader's start.
		Hold: c.HALeaseDuration + 2*c.HARetryPeriod + fenceWithin,
		Log:  log.With("component", "forward"),
	})
	rtr := router.New(router.Options{})
	clk := newClock(c)
	em := &emitter.Emitter{Router: rtr, Hosting: replica.NoInstances{}, Store: &replica.Outbox{Mailbox: pg}, Clock: clk,
		NoIdleZeros: true, Prometheus: front.Prometheus, Logger: log.With("component", "emitter")}
	// The follower's emitter runs until the replica stops, also once it
	// leads: requests the follower's router took before the switch (or
	// still serves) are counted too.
	fctx, stopFollowing := context.WithCancel(context.Background())
	ectx, stopEmitting := context.WithCancel(context.Background())
	var following, emitting sync.WaitGroup
	following.Add(1)
	go func() {
		defer following.Done()
		replica.Follow(fctx, clk, replica.DefaultFollowEvery, st, rtr, log.With("component", "replica"))
	}()
	emitting.Add(1)
	go func() { defer emitting.Done(); em.Run(ectx) }()
	// unfollow stops taking the leader's routing table, once.
	var unfollowOnce sync.Once
	unfollow := func() {
		unfollowOnce.Do(func() {
			stopFollowing()
			following.Wait()
		})
	}
	// unemit sends what the follower's router measured last, once.
	var unemitOnce sync.Once
	unemit := func() {
		unemitOnce.Do(func() {
			stopEmitting()
			emitting.Wait()
			if err := em.Tick(clk.Now()); err != nil {
				log.Warn("sending the last metrics measured as a follower", "err", err)
			}
		})
	}
	var mu sync.Mutex
	var stopServices func()
	lead := func(lctx context.Context) {
		unfollow()
		fctx, cancel := context.WithTimeout(lctx, fenceWithin)
		epoch, err := pg.Fence(fctx, c.AdvertiseURL)
		cancel()
		if err != nil {
			// Holding the Lease without serving would stop the whole
			// control plane: give it up (the server exits and its
			// restart follows).
			report(fmt.Errorf("raising the fencing epoch within %v: %w", fenceWithin, err))
			return
		}
		h, stop, err := startServices(lctx, c, log, st, rt, reg, front)
		if err != nil {
			report(err)
			return
		}
		mu.Lock()
		stopServices = stop
		mu.Unlock()
		serving.Store(&h)
		current.Store(&h)
		changes.Notify() // calls held by the follower's handler are served here now
		log.Info("serving as the leader", "lease", c.HALease, "epoch", epoch)
		select {
		case <-lctx.Done():
		case <-pg.Fenced():
			report(errors.New("a newer leader fenced this replica's writes off: stopping"))
		}
	}
	lost := func() { report(errors.New("not leading any more: stopping (the restarted replica follows)")) }
	el, err = leader.New(leader.Options{Client: client, Namespace: ns, Name: c.HALease, URL: c.AdvertiseURL,
		LeaseDuration: c.HALeaseDuration, RenewDeadline: c.HARenewDeadline, RetryPeriod: c.HARetryPeriod,
		Changes: &changes, Logger: log.With("component", "leader")}, lead, lost)
	if err != nil {
		unfollow()
		unemit()
		return nil, fmt.Errorf("--ha-lease: %w", err)
	}
	var follower http.Handler = api.NewHandler(api.Config{
		Forward:         forward,
		Done:            ctx.Done(),
		Runtime:         &smruntime.Handler{Router: rtr, Fallback: forward, Region: c.Region, AccountID: c.AccountID},
		Metrics:         front.Metrics,
		Verifier:        front.Verifier,
		Admission:       front.Admission,
		BodyReadTimeout: front.BodyReadTimeout,
		Logger:          front.Logger,
	})
	current.Store(&follower)
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { el.Run(lctx); close(done) }()
	return func() {
		unfollow()
		unemit()
		mu.Lock()
		if stopServices != nil {
			stopServices()
		}
		mu.Unlock()
		cancel() // gives the lease up (ReleaseOnCancel): the next leader need not wait for it to expire
		<-done
	}, nil
}

// fenceWithin bounds how long a new leader tries to raise the fencing
// epoch. A replica frozen or cut off inside a write holds the fencing row
// until PostgreSQL ends its transaction (idle_in_transaction_session_timeout,
// see store/postgres), which is shorter.
const fenceWithin = 10 * time.Second
