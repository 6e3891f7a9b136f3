package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// step is one scaling activity: when (from the trace's start) and to what.
type step struct {
	at       time.Duration
	capacity int
}

func steps(t *testing.T, times []time.Time, descriptions []string, start time.Time) []step {
	var out []step
	for i, d := range descriptions {
		var n int
		if _, err := fmt.Sscanf(d, "Setting desired instance count to %d.", &n); err != nil {
			t.Fatalf("activity %q", d)
		}
		out = append(out, step{times[i].Sub(start), n})
	}
	return out
}

// TestSimulationMatchesLive replays one trace twice: live, against a real
// endpoint with a 60-times clock, and in `ebb simulate` with the startup
// the live instance took. The scaling steps must be the same, in the same
// order, each within one evaluation period (a minute) of its live twin, and
// the instance-hours within 10 %.
func TestSimulationMatchesLive(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: replays a trace live")
	}
	const scale = 60
	epoch := time.Now().UTC().Truncate(time.Second)
	scaled := func(real time.Time) time.Time { return epoch.Add(real.Sub(epoch) * scale) }
	s := startServer(t, t.TempDir(), "--time-scale", "60", "--time-scale-epoch", epoch.Format(time.RFC3339))
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	cw := s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	deploy(t, sm, "proof", "ebb example-model --work-ms 0", 1)
	waitInService(t, sm, "proof")

	// Invocations per minute: quiet, busy for ten minutes, quiet again.
	var minutes []int
	for _, p := range []struct{ n, perMinute int }{{4, 100}, {10, 500}, {22, 100}} {
		for range p.n {
			minutes = append(minutes, p.perMinute)
		}
	}
	policy := `{"MinCapacity": 1, "MaxCapacity": 5, "ScalingPolicies": [{"PolicyName": "proof", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 200, "ScaleOutCooldown": 60, "ScaleInCooldown": 120,
		"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}]}`
	id := aws.String("endpoint/proof/variant/AllTraffic")
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
		ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	var p struct{ ScalingPolicies []json.RawMessage }
	json.Unmarshal([]byte(policy), &p)
	var put aas.PutScalingPolicyInput
	if err := json.Unmarshal(p.ScalingPolicies[0], &put); err != nil {
		t.Fatal(err)
	}
	put.ServiceNamespace, put.ResourceId, put.ScalableDimension = aastypes.ServiceNamespaceSagemaker, id, variantDim
	if _, err := as.PutScalingPolicy(ctx, &put); err != nil {
		t.Fatal(err)
	}

	// Live: each simulated minute is a real second.
	start := time.Now()
	hours, last := 0.0, scaled(start)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	total := time.Duration(len(minutes))*time.Second + 2*time.Second // and a tail, as the simulation's
	for i := 0; time.Since(start) < total; {
		if i < len(minutes) && time.Since(start) >= time.Duration(i)*time.Second {
			n := minutes[i]
			second := start.Add(time.Duration(i) * time.Second)
			i++
			go func() {
				for k := range n {
					time.Sleep(time.Until(second.Add(time.Duration(k) * time.Second / time.Duration(n))))
					sem <- struct{}{}
					wg.Add(1)
					go func() {
						defer wg.Done()
						rt.InvokeEndpoint(ctx, invocation("proof"))
						<-sem
					}()
				}
			}()
		}
		<-poll.C
		now := scaled(time.Now())
		if o, err := sm.DescribeEndpoint(ctx, describe("proof")); err == nil {
			hours += float64(aws.ToInt32(variantOf(o).DesiredInstanceCount)) * now.Sub(last).Hours()
		}
		last = now
	}
	wg.Wait()
	acts, err := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id, ScalableDimension: variantDim})
	if err != nil {
		t.Fatal(err)
	}
	var liveTimes []time.Time
	var liveDesc []string
	for i := len(acts.ScalingActivities) - 1; i >= 0; i-- { // oldest first
		a := acts.ScalingActivities[i]
		liveTimes, liveDesc = append(liveTimes, aws.ToTime(a.StartTime)), append(liveDesc, aws.ToString(a.Description))
	}
	live := steps(t, liveTimes, liveDesc, scaled(start))

	// The startup the live instances took, as the simulation's.
	startup := 10 * time.Second
	if out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("ebb/ColdStart"), MetricName: aws.String("InstanceStartupTime"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("proof")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
		StartTime:  aws.Time(epoch.Add(-time.Hour)), EndTime: aws.Time(scaled(time.Now()).Add(time.Hour)), Period: aws.Int32(86400),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticAverage}}); err == nil && len(out.Datapoints) > 0 {
		startup = time.Duration(aws.ToFloat64(out.Datapoints[0].Average)) * time.Millisecond
	}

	// Simulated: the same minutes, per second.
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("requests\n")
	for _, n := range minutes {
		for range 60 {
			fmt.Fprintf(&csv, "%g\n", float64(n)/60)
		}
	}
	os.WriteFile(filepath.Join(dir, "trace.csv"), []byte(csv.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "proof.json"), []byte(policy), 0o644)
	out, err := exec.Command(ebbBin, "simulate", "--trace", filepath.Join(dir, "trace.csv"), "--policy", filepath.Join(dir, "proof.json"),
		"--service-time", "1ms", "--concurrency", "1000", "--startup", startup.String(), "--slo", "1s", "--json", "--plot", "").Output()
	if err != nil {
		t.Fatalf("ebb simulate: %v", err)
	}
	var res struct {
		Policies []struct {
			InstanceHours float64 `json:"instance_hours"`
			Activities    []struct {
				Time        time.Time
				Description string
			}
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	var simTimes []time.Time
	var simDesc []string
	for _, a := range res.Policies[0].Activities {
		simTimes, simDesc = append(simTimes, a.Time), append(simDesc, a.Description)
	}
	simulated := steps(t, simTimes, simDesc, time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))

	t.Logf("live: %v, %.3f instance-hours; simulated (startup %v): %v, %.3f instance-hours", live, hours, startup, simulated, res.Policies[0].InstanceHours)
	if len(live) < 2 || len(live) != len(simulated) {
		t.Fatalf("live steps %v, simulated %v", live, simulated)
	}
	for i := range live {
		if live[i].capacity != simulated[i].capacity || math.Abs((live[i].at-simulated[i].at).Seconds()) > 60 {
			t.Fatalf("step %d: live %v, simulated %v", i, live[i], simulated[i])
		}
	}
	if d := math.Abs(hours-res.Policies[0].InstanceHours) / hours; d > 0.10 {
		t.Fatalf("instance-hours: live %.3f, simulated %.3f (%.0f %% apart)", hours, res.Policies[0].InstanceHours, 100*d)
	}
}
