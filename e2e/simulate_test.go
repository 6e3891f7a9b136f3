package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulate runs `ebb simulate --search --json` on the Azure conversation trace
// (per-request timestamps) with two policy files and checks the JSON
// contract: the reports side by side, every activity, and the search's
// cheapest policy keeping the baseline's SLO attainment.
func TestSimulate(t *testing.T) {
	trace := filepath.Join("..", "..", "shared", "traces", "azure_llm_2023_conv.csv")
	if _, err := os.Stat(trace); err != nil {
		t.Skipf("no trace %s", trace)
	}
	dir := t.TempDir()
	for name, doc := range map[string]string{
		"aws-default": `{"MinCapacity": 1, "MaxCapacity": 20, "ScalingPolicies": [{"PolicyName": "p", "PolicyType": "TargetTrackingScaling",
			"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 300, "ScaleOutCooldown": 300, "ScaleInCooldown": 300,
			"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}]}`,
		"steps": `{"MinCapacity": 1, "MaxCapacity": 20, "ScalingPolicies": [{"PolicyName": "s", "PolicyType": "StepScaling",
			"StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity", "Cooldown": 60, "MetricAggregationType": "Average",
			"StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 2}]}}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(ebbBin, "simulate", "--trace", trace, "--policy", filepath.Join(dir, "aws-default.json"), "--policy", filepath.Join(dir, "steps.json"),
		"--service-time", "100ms", "--concurrency", "1", "--startup", "1m", "--slo", "1s", "--search", "--json", "--plot", filepath.Join(dir, "plot"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ebb simulate: %v\n%s", err, stderr.String())
	}
	var res struct {
		Policies []struct {
			Name          string
			InstanceHours float64 `json:"instance_hours"`
			SLOAttainment float64 `json:"slo_attainment"`
			P99           float64 `json:"p99_ms"`
			Activities    []struct{ Description, Cause string }
		}
		Search struct {
			Baseline string
			Best     struct {
				Name          string
				InstanceHours float64 `json:"instance_hours"`
				SLOAttainment float64 `json:"slo_attainment"`
				Policy        json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res.Policies) < 2 || res.Policies[0].Name != "aws-default" || res.Policies[1].Name != "steps" {
		t.Fatalf("policies %+v", res.Policies)
	}
	base := res.Policies[0]
	if base.InstanceHours <= 0 || base.SLOAttainment <= 0 || base.P99 <= 0 || len(base.Activities) == 0 {
		t.Fatalf("baseline %+v", base)
	}
	// The step policy has no alarm (it would need one put with CloudWatch):
	// it never acts.
	if len(res.Policies[1].Activities) != 0 {
		t.Fatalf("a step policy without an alarm acted: %+v", res.Policies[1].Activities)
	}
	b := res.Search.Best
	if res.Search.Baseline != "aws-default" || b.SLOAttainment < base.SLOAttainment || b.InstanceHours > base.InstanceHours || len(b.Policy) == 0 {
		t.Fatalf("search %+v against %+v", res.Search, base)
	}
	t.Logf("aws-default %.2f h at %.4f; best %s %.2f h at %.4f", base.InstanceHours, base.SLOAttainment, b.Name, b.InstanceHours, b.SLOAttainment)
	for _, ext := range []string{".png", ".html"} {
		if info, err := os.Stat(filepath.Join(dir, "plot"+ext)); err != nil || info.Size() < 1000 {
			t.Errorf("plot%s: %v", ext, err)
		}
	}

	// A service-time flag that would go unused is refused, naming it.
	for _, args := range [][]string{{"--service-time-column", "GeneratedTokens", "--service-time", "1s"}, {"--service-time-base", "200ms"}} {
		out, err := exec.Command(ebbBin, append([]string{"simulate", "--trace", trace, "--policy", filepath.Join(dir, "aws-default.json"), "--plot", ""}, args...)...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), args[len(args)-2]) {
			t.Errorf("simulate %v: %v\n%s", args, err, out)
		}
	}
}
