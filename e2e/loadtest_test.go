package e2e

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadtest ramps load on one instance of the example model with
// `ebb loadtest` and checks its recommendation against its own
// measurements: AWS's formula from the measured maximum, the knee at or
// below it, and policy JSON that Application Auto Scaling accepts.
func TestLoadtest(t *testing.T) {
	dir := t.TempDir()
	requests := filepath.Join(dir, "requests.csv")
	s := startServer(t, dir, "--request-log", requests)
	deploy(t, s.SageMaker(), "lt", "ebb example-model --work-ms 10", 1)
	waitInService(t, s.SageMaker(), "lt")
	plot := filepath.Join(t.TempDir(), "lt")
	cmd := exec.Command(ebbBin, "loadtest", "--endpoint", "lt", "--endpoint-url", s.URL, "--start-rps", "20", "--step", "2s",
		"--p99", "250ms", "--max-error-rate", "1%", "--refine", "2", "--json", "--plot", plot)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ebb loadtest: %v\n%s", err, stderr.String())
	}
	var res struct {
		Instances int
		Steps     []struct {
			Sustainable bool
			Requests    int
		}
		Recommendation struct {
			MaxRPS      float64 `json:"max_rps_per_instance"`
			KneeRPS     float64 `json:"knee_rps_per_instance"`
			AWSTarget   float64 `json:"aws_formula_target"`
			KneeTarget  float64 `json:"knee_target"`
			Concurrency float64 `json:"concurrency_target"`
			CPU         float64 `json:"cpu_target"`
			ScaleOut    int     `json:"scale_out_cooldown"`
			ScaleIn     int     `json:"scale_in_cooldown"`
		}
		Policy map[string]any
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	r := res.Recommendation
	t.Logf("max %.1f req/s, knee %.1f, targets %v (AWS) / %v (knee), concurrency %v, CPU %v, cooldowns %d/%d\n%s",
		r.MaxRPS, r.KneeRPS, r.AWSTarget, r.KneeTarget, r.Concurrency, r.CPU, r.ScaleOut, r.ScaleIn, stderr.String())
	if res.Instances != 1 || len(res.Steps) < 3 || r.MaxRPS < 10 || r.KneeRPS > r.MaxRPS+0.01 || r.AWSTarget != math.Round(r.MaxRPS*0.5*60) ||
		r.Concurrency <= 0 || r.ScaleOut < 60 || r.ScaleIn < 300 {
		t.Fatalf("recommendation %+v", res)
	}
	if !strings.Contains(stderr.String(), "beyond the SLO") {
		t.Errorf("the ramp never broke the SLO:\n%s", stderr.String())
	}
	for _, ext := range []string{".png", ".html"} {
		if info, err := os.Stat(plot + ext); err != nil || info.Size() < 1000 {
			t.Errorf("plot %s: %v", ext, err)
		}
	}
	// The policy JSON goes to put_scaling_policy as it is (boto3's names).
	policy, _ := json.Marshal(res.Policy)
	pythons := withBoto3()
	if len(pythons) == 0 {
		t.Fatal("no python3 with boto3: install python3-boto3")
	}
	as := exec.Command(pythons[0], "-c", `
import boto3, json, sys
aas = boto3.client("application-autoscaling", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId="endpoint/lt/variant/AllTraffic", ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1, MaxCapacity=4)
aas.put_scaling_policy(**json.loads(sys.argv[2]))
`, s.URL, string(policy))
	if out, err := as.CombinedOutput(); err != nil {
		t.Fatalf("put_scaling_policy with the recommended policy: %v\n%s", err, out)
	}

	// The server's request log is a trace: ebb simulate replays the load
	// test with its measured service times.
	s.Stop()
	policyFile := filepath.Join(dir, "recommended.json")
	os.WriteFile(policyFile, []byte(`{"MinCapacity": 1, "MaxCapacity": 4, "ScalingPolicies": [`+string(policy)+`]}`), 0o644)
	simulate := exec.Command(ebbBin, "simulate", "--trace", requests, "--service-time-column", "ModelLatencyMs", "--policy", policyFile,
		"--concurrency", "2", "--startup", "1s", "--slo", "250ms", "--json", "--plot", "")
	stderr.Reset()
	simulate.Stderr = &stderr
	out, err = simulate.Output()
	if err != nil {
		t.Fatalf("ebb simulate on the request log: %v\n%s", err, stderr.String())
	}
	var sim struct {
		Policies []struct {
			Requests      float64
			SLOAttainment float64 `json:"slo_attainment"`
		}
	}
	if err := json.Unmarshal(out, &sim); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	sent := 0
	for _, st := range res.Steps {
		sent += st.Requests
	}
	if len(sim.Policies) != 1 || int(sim.Policies[0].Requests) < sent*9/10 || sim.Policies[0].SLOAttainment <= 0 {
		t.Fatalf("simulated %+v from a log of a load test that sent %d requests", sim.Policies, sent)
	}
}
