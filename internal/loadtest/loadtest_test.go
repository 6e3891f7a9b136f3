package loadtest

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// server is a model with 4 workers of 5 ms each: 800 requests per second.
func server() Invoker {
	workers := make(chan struct{}, 4)
	return func(ctx context.Context) error {
		workers <- struct{}{}
		time.Sleep(5 * time.Millisecond)
		<-workers
		return nil
	}
}

func TestRampFindsCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []Step
		res, err := Run(context.Background(), server(), Options{P99: 50 * time.Millisecond, MaxErrorRate: 0.01, StartRPS: 100, Growth: 1.5,
			StepDuration: 2 * time.Second, Refine: 4, Progress: func(s Step) { seen = append(seen, s) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(res.Steps) || len(seen) < 7 {
			t.Fatalf("%d steps reported, %d run", len(seen), len(res.Steps))
		}
		if res.Max.OfferedRPS < 700 || res.Max.OfferedRPS > 800 || !res.Max.Sustainable {
			t.Fatalf("max %+v, want just under 800 rps", res.Max)
		}
		if res.Knee.OfferedRPS > res.Max.OfferedRPS {
			t.Fatalf("knee %v above max %v", res.Knee.OfferedRPS, res.Max.OfferedRPS)
		}
		rec := Recommend(res, Measured{Instances: 2, Startup: 40 * time.Second})
		if want := float64(int(res.Max.AchievedRPS/2*0.5*60 + 0.5)); rec.AWSFormulaTarget != want {
			t.Fatalf("AWS formula target %v, want %v", rec.AWSFormulaTarget, want)
		}
		if rec.ScaleOutCooldown != 140 || rec.ScaleInCooldown != 300 || rec.ConcurrencyTarget <= 0 {
			t.Fatalf("recommendation %+v", rec)
		}
	})
}

// TestKneeOfACurve: latency flat, then climbing: the knee is the last step
// before it climbs steeply (Kneedle: 500, where p99 has doubled).
func TestKneeOfACurve(t *testing.T) {
	var steps []Step
	for i, p99 := range []time.Duration{10, 10, 11, 12, 20, 45, 90} {
		steps = append(steps, Step{OfferedRPS: float64(100 * (i + 1)), P99: p99 * time.Millisecond, Sustainable: true})
	}
	if k := knee(steps, steps[6]); k.OfferedRPS != 500 {
		t.Fatalf("knee at %v, want 500", k.OfferedRPS)
	}
}

func TestNothingSustainable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, err := Run(context.Background(), server(), Options{P99: time.Millisecond, StartRPS: 100, StepDuration: time.Second})
		if err != ErrNothingSustainable {
			t.Fatal(err)
		}
	})
}

func TestPlotAndPage(t *testing.T) {
	var steps []Step
	for i, p99 := range []time.Duration{10, 11, 12, 20, 45, 400} {
		steps = append(steps, Step{OfferedRPS: float64(50 * (i + 1)), AchievedRPS: float64(50 * (i + 1)), P50: p99 / 2 * time.Millisecond, P90: p99 * 3 / 4 * time.Millisecond,
			P99: p99 * time.Millisecond, Sustainable: p99 < 300})
	}
	res := Result{Steps: steps, Max: steps[4], Knee: steps[3]}
	png, svg, err := Plot(res, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || !bytes.Contains(svg, []byte("<svg")) {
		t.Fatalf("png %d bytes, svg %d bytes", len(png), len(svg))
	}
	page, err := HTML(Report{Endpoint: "e", SLO: 300 * time.Millisecond, ErrorRate: "0.1%", Result: res, Rec: Recommend(res, Measured{}), Policy: "{}"}, svg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "knee of the latency curve", "<td>400.0</td>", "<td>no</td>"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
