package router

import (
	"context"
	"testing"
	"time"
)

// TestFleets: during a blue/green deployment the green fleet takes about
// its share of the variant's traffic (none while it has no healthy
// instance); each fleet's invocations count under its endpoint
// configuration, and the variant's count both.
func TestFleets(t *testing.T) {
	r := New(Options{})
	blue, green := serve(t, answer("blue")), serve(t, answer("green"))
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{blue}, Fleet: "old",
		Green: &Fleet{Config: "new", Instances: []Instance{green}, Share: 0.25}}}})
	got := map[string]int{}
	const n = 2000
	for range n {
		_, body, err := invoke(t, r, Invocation{Endpoint: "ep", Body: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		got[body]++
	}
	if g := float64(got["green"]) / n; g < 0.2 || g > 0.3 {
		t.Fatalf("green took %.3f of the traffic (%v), want about 0.25", g, got)
	}
	counts := map[string]Sample{}
	for _, s := range r.Collect() {
		counts[s.Fleet] = s
	}
	if counts[""].Invocations != n || counts[""].Instances != 2 || counts["old"].Invocations != got["blue"] || counts["new"].Invocations != got["green"] ||
		counts["new"].Instances != 1 || counts["old"].Instances != 1 {
		t.Fatalf("samples %+v; want the variant's %d, old %d and new %d, one instance each", counts, n, got["blue"], got["green"])
	}
	// All traffic on the new fleet.
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{blue}, Fleet: "old",
		Green: &Fleet{Config: "new", Instances: []Instance{green}, Share: 1}}}})
	for range 20 {
		if _, body, _ := invoke(t, r, Invocation{Endpoint: "ep", Body: []byte("x")}); body != "green" {
			t.Fatalf("at share 1 the old fleet answered")
		}
	}
	// The green fleet's one instance gone while it bakes: the old fleet
	// still answers, nothing fails.
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{blue}, Fleet: "old",
		Green: &Fleet{Config: "new", Share: 0.5}}}})
	for range 20 {
		if _, body, err := invoke(t, r, Invocation{Endpoint: "ep", Body: []byte("x")}); err != nil || body != "blue" {
			t.Fatalf("with no healthy green instance: %q, %v; want the old fleet's answer", body, err)
		}
	}
	// Rolled back: the green fleet is withdrawn, and drains.
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{blue}}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Drain(ctx, green.ID); err != nil {
		t.Fatalf("draining the green fleet after a rollback: %v", err)
	}
	// The deployment over: the fleets' figures go.
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{green}}}})
	r.Collect()
	for _, s := range r.Collect() {
		if s.Fleet != "" {
			t.Fatalf("a fleet's sample after the deployment: %+v", s)
		}
	}
}
