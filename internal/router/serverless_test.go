package router

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestServerless: a serverless variant (MaxConcurrency 2) with no
// environment holds an invocation and asks for one; each environment
// serves one invocation at a time, so a second waits (asking for another)
// until one is free; a third, beyond MaxConcurrency, is throttled at once.
func TestServerless(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 2)
	env := serve(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Write([]byte("ok"))
	})
	demand := make(chan Demand, 8)
	r := New(Options{Demand: demand, ColdStartTimeout: time.Minute})
	sl := func(instances ...Instance) Endpoint {
		return Endpoint{Name: "sl", Variants: []Variant{{Name: "v", Weight: 1, Serverless: &Serverless{MaxConcurrency: 2}, Instances: instances}}}
	}
	r.Set(sl())
	results := make(chan error, 3)
	call := func() {
		_, body, err := invoke(t, r, Invocation{Endpoint: "sl", Body: []byte("x")})
		if err == nil && body != "ok" {
			err = errors.New("answered " + body)
		}
		results <- err
	}
	go call()
	if d := <-demand; d.Endpoint != "sl" || d.Variant != "v" || d.InFlight != 1 {
		t.Fatalf("demand %+v, want one environment for sl/v", d)
	}
	r.Set(sl(env))
	<-arrived // the first holds the one environment
	go call()
	for d := range demand {
		if d.InFlight == 2 {
			break // the second asks for another
		}
	}
	if got := r.PeakInFlight("sl", "v"); got != 2 {
		t.Fatalf("PeakInFlight = %d, want 2", got)
	}
	if _, _, err := invoke(t, r, Invocation{Endpoint: "sl", Body: []byte("x")}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("a third invocation: %v, want ErrThrottled", err)
	}
	release <- struct{}{} // the first ends; the second takes its environment
	<-arrived
	release <- struct{}{}
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	// The peak since the last look was 2, though none is in flight now;
	// the look after that sees none.
	if got := r.PeakInFlight("sl", "v"); got != 2 {
		t.Fatalf("PeakInFlight = %d after both, want their 2", got)
	}
	if got := r.PeakInFlight("sl", "v"); got != 0 {
		t.Fatalf("PeakInFlight = %d at the next look, want 0", got)
	}
}

// TestProvisionedConcurrency: of a serverless variant with provisioned
// concurrency 1, the first invocation at once runs on it and the second
// spills over; once the first ends, the next runs on provisioned
// concurrency again. Collect reports both, counted and in flight.
func TestProvisionedConcurrency(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 3)
	blocking := func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Write([]byte("ok"))
	}
	r := New(Options{Demand: make(chan Demand, 8), ColdStartTimeout: time.Minute})
	r.Set(Endpoint{Name: "sl", Variants: []Variant{{Name: "v", Weight: 1, Serverless: &Serverless{MaxConcurrency: 3, ProvisionedConcurrency: 1},
		Instances: []Instance{serve(t, blocking), serve(t, blocking)}}}})
	results := make(chan error, 3)
	call := func() {
		_, _, err := invoke(t, r, Invocation{Endpoint: "sl", Body: []byte("x")})
		results <- err
	}
	sample := func() ServerlessSample {
		t.Helper()
		for _, s := range r.Collect() {
			if s.Variant == "v" && s.Serverless != nil {
				return *s.Serverless
			}
		}
		t.Fatal("no serverless sample")
		return ServerlessSample{}
	}
	go call()
	<-arrived
	go call()
	<-arrived
	want := ServerlessSample{Serverless: Serverless{MaxConcurrency: 3, ProvisionedConcurrency: 1}, InFlight: 2, ProvisionedInFlight: 1, ProvisionedInvocations: 1, SpilloverInvocations: 1}
	if got := sample(); got != want {
		t.Fatalf("two at once: %+v, want %+v", got, want)
	}
	release <- struct{}{} // one ends: if it was the provisioned one, the slot is free
	if err := <-results; err != nil {
		t.Fatal(err)
	}
	go call()
	<-arrived
	got := sample()
	if got.InFlight != 2 || got.ProvisionedInvocations+got.SpilloverInvocations != 1 || got.ProvisionedInFlight != 1 {
		t.Fatalf("after one ended and another came: %+v, want 2 in flight, 1 on provisioned concurrency", got)
	}
	close(release)
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if got := sample(); got.InFlight != 0 || got.ProvisionedInFlight != 0 {
		t.Fatalf("after all: %+v, want none in flight", got)
	}
}

// TestServerlessPayload: a serverless variant takes requests of 4 MB at
// most (instances take 6); a larger one is refused before it is admitted.
func TestServerlessPayload(t *testing.T) {
	r := New(Options{Demand: make(chan Demand, 1), ColdStartTimeout: time.Minute})
	r.Set(Endpoint{Name: "sl", Variants: []Variant{{Name: "v", Weight: 1, Serverless: &Serverless{MaxConcurrency: 1},
		Instances: []Instance{serve(t, answer("ok"))}}}})
	if _, _, err := invoke(t, r, Invocation{Endpoint: "sl", Body: make([]byte, ServerlessMaxPayloadBytes+1)}); !errors.Is(err, ErrServerlessPayload) {
		t.Fatalf("4 MB + 1: %v, want ErrServerlessPayload", err)
	}
	if _, body, err := invoke(t, r, Invocation{Endpoint: "sl", Body: make([]byte, ServerlessMaxPayloadBytes)}); err != nil || body != "ok" {
		t.Fatalf("4 MB: %q, %v", body, err)
	}
}

// TestServerlessElsewhere: a router that asks no hosting for environments
// (a follower replica's) leaves serverless variants to the leader's.
func TestServerlessElsewhere(t *testing.T) {
	r := New(Options{})
	r.Set(Endpoint{Name: "sl", Variants: []Variant{{Name: "v", Weight: 1, Serverless: &Serverless{MaxConcurrency: 1},
		Instances: []Instance{serve(t, answer("ok"))}}}})
	if _, _, err := invoke(t, r, Invocation{Endpoint: "sl", Body: []byte("x")}); !errors.Is(err, ErrServerlessElsewhere) {
		t.Fatalf("%v, want ErrServerlessElsewhere", err)
	}
}
