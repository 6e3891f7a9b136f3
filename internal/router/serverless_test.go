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
	if got := r.InFlight("sl", "v"); got != 2 {
		t.Fatalf("InFlight = %d, want 2", got)
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
	if got := r.InFlight("sl", "v"); got != 0 {
		t.Fatalf("InFlight = %d after both, want 0", got)
	}
}
