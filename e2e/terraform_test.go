package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// terraformMirrors are where a filesystem mirror of the hashicorp/aws
// provider is looked for (the CI image keeps one in /opt/tf-plugins);
// EBB_TF_PLUGIN_MIRROR names another.
var terraformMirrors = []string{os.Getenv("EBB_TF_PLUGIN_MIRROR"), "/opt/tf-plugins", "/usr/share/terraform/plugins", os.ExpandEnv("$HOME/.terraform.d/plugins")}

// terraform runs the terraform CLI in one working directory, offline: its
// CLI configuration installs hashicorp/aws from the local mirror only.
type terraform struct {
	t   *testing.T
	dir string
	env []string
}

// newTerraform copies examples/terraform into a fresh directory and runs
// terraform init there, or skips the test, saying why, when terraform or a
// provider mirror is absent.
func newTerraform(t *testing.T) *terraform {
	t.Helper()
	if testing.Short() {
		t.Skip("runs terraform against a real server")
	}
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not installed (https://developer.hashicorp.com/terraform/install); TestTerraform* skipped")
	}
	mirror := ""
	for _, m := range terraformMirrors {
		if m == "" {
			continue
		}
		if found, _ := filepath.Glob(filepath.Join(m, "registry.terraform.io/hashicorp/aws/*")); len(found) > 0 {
			mirror = m
			break
		}
	}
	if mirror == "" {
		t.Skipf("no filesystem mirror of the hashicorp/aws provider in %s (set EBB_TF_PLUGIN_MIRROR); TestTerraform* skipped", strings.Join(terraformMirrors[1:], ", "))
	}
	dir := t.TempDir()
	main, err := os.ReadFile("../examples/terraform/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), main, 0o644); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "terraformrc")
	cfg := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"registry.terraform.io/hashicorp/aws\"]\n  }\n  direct {\n    exclude = [\"registry.terraform.io/hashicorp/aws\"]\n  }\n}\n", mirror)
	if err := os.WriteFile(rc, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	tf := &terraform{t: t, dir: dir, env: append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")}
	version, _ := exec.Command(bin, "version").Output()
	t.Logf("%s, provider mirror %s", strings.SplitN(string(version), "\n", 2)[0], mirror)
	tf.must("init", "-no-color")
	return tf
}

// run runs one terraform command and returns its output and exit status.
func (tf *terraform) run(args ...string) (string, int) {
	tf.t.Helper()
	c := exec.Command("terraform", args...)
	c.Dir, c.Env = tf.dir, tf.env
	out, err := c.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	default:
		tf.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
		return "", -1
	}
}

// must runs a command that has to succeed.
func (tf *terraform) must(args ...string) string {
	tf.t.Helper()
	out, code := tf.run(args...)
	if code != 0 {
		tf.t.Fatalf("terraform %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// noDrift fails unless a plan finds nothing to change: every attribute the
// provider reads back is what it wrote.
func (tf *terraform) noDrift(vars ...string) {
	tf.t.Helper()
	out, code := tf.run(append([]string{"plan", "-no-color", "-detailed-exitcode"}, vars...)...)
	if code != 0 {
		tf.t.Fatalf("terraform plan after apply: exit %d (2: changes), want 0 (no changes)\n%s", code, out)
	}
}

// TestTerraform applies examples/terraform with the Terraform AWS provider
// against a real server: models of one and two containers, real-time,
// asynchronous and pipeline endpoints, a scalable target with predefined,
// metric-math and step policies, a scheduled action and two alarms. Then a
// plan shows no drift, MaxCapacity and TargetValue change in place, the
// endpoint and its scalable target are imported, and destroy leaves nothing.
func TestTerraform(t *testing.T) {
	tf := newTerraform(t)
	s := startServer(t, t.TempDir(), "--time-scale", "60")
	ctx := context.Background()
	as := s.AutoScaling()
	url := "-var=endpoint_url=" + s.URL

	out := tf.must("apply", "-no-color", "-auto-approve", url)
	if !strings.Contains(out, "Apply complete! Resources: 15 added, 0 changed, 0 destroyed.") {
		t.Fatalf("apply:\n%s", out)
	}
	// What Terraform declared is really served.
	for _, ep := range []string{"tf-realtime", "tf-pipeline"} {
		r, err := s.Runtime().InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String(ep), ContentType: aws.String("text/csv"), Body: []byte("1,2,3")})
		if err != nil || len(r.Body) == 0 {
			t.Fatalf("InvokeEndpoint %s after apply: %v", ep, err)
		}
	}
	tf.noDrift(url)

	// In place: MaxCapacity and TargetValue.
	changed := []string{url, "-var=max_capacity=6", "-var=target_value=80"}
	out = tf.must(append([]string{"apply", "-no-color", "-auto-approve"}, changed...)...)
	if !strings.Contains(out, "Resources: 0 added, 2 changed, 0 destroyed.") {
		t.Fatalf("apply of a new max_capacity and target_value is not two changes in place:\n%s", out)
	}
	targets, err := as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker})
	if err != nil || len(targets.ScalableTargets) != 1 || aws.ToInt32(targets.ScalableTargets[0].MaxCapacity) != 6 {
		t.Fatalf("DescribeScalableTargets after the change: %+v, %v (want MaxCapacity 6)", targets, err)
	}
	policies, err := as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, PolicyNames: []string{"tf-invocations"}})
	if err != nil || len(policies.ScalingPolicies) != 1 || aws.ToFloat64(policies.ScalingPolicies[0].TargetTrackingScalingPolicyConfiguration.TargetValue) != 80 {
		t.Fatalf("DescribeScalingPolicies after the change: %+v, %v (want TargetValue 80)", policies, err)
	}
	tf.noDrift(changed...)

	// Import: the endpoint and its scalable target, forgotten and read back.
	tf.must("state", "rm", "aws_sagemaker_endpoint.realtime", "aws_appautoscaling_target.realtime")
	tf.must("import", "-no-color", url, "aws_sagemaker_endpoint.realtime", "tf-realtime")
	tf.must("import", "-no-color", url, "aws_appautoscaling_target.realtime", "sagemaker/endpoint/tf-realtime/variant/AllTraffic/sagemaker:variant:DesiredInstanceCount")
	tf.noDrift(changed...)

	pids := s.instances()
	if len(pids) < 3 {
		t.Fatalf("instances before destroy: %v, want one per endpoint and more for the pipeline's containers", pids)
	}
	out = tf.must(append([]string{"destroy", "-no-color", "-auto-approve"}, changed...)...)
	if !strings.Contains(out, "Destroy complete! Resources: 15 destroyed.") {
		t.Fatalf("destroy:\n%s", out)
	}
	left := leftBehind(ctx, t, s)
	if len(left) > 0 {
		t.Errorf("destroy left behind: %s", strings.Join(left, "; "))
	}
	waitCond(t, "every instance process ended after destroy", func() bool {
		return !slices.ContainsFunc(slices.Collect(maps.Values(pids)), alive)
	})
}

// leftBehind lists every resource the server still holds, by kind.
func leftBehind(ctx context.Context, t *testing.T, s *server) []string {
	t.Helper()
	sm, as, cw := s.SageMaker(), s.AutoScaling(), s.cloudWatchClients()["cbor"]
	ns := aastypes.ServiceNamespaceSagemaker
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatalf("listing what is left: %v", err)
		}
	}
	models, err := sm.ListModels(ctx, &sagemaker.ListModelsInput{})
	must(err)
	configs, err := sm.ListEndpointConfigs(ctx, &sagemaker.ListEndpointConfigsInput{})
	must(err)
	endpoints, err := sm.ListEndpoints(ctx, &sagemaker.ListEndpointsInput{})
	must(err)
	targets, err := as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: ns})
	must(err)
	policies, err := as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: ns})
	must(err)
	actions, err := as.DescribeScheduledActions(ctx, &aas.DescribeScheduledActionsInput{ServiceNamespace: ns})
	must(err)
	alarms, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	must(err)
	var left []string
	for kind, n := range map[string]int{
		"models": len(models.Models), "endpoint configurations": len(configs.EndpointConfigs), "endpoints": len(endpoints.Endpoints),
		"scalable targets": len(targets.ScalableTargets), "scaling policies": len(policies.ScalingPolicies),
		"scheduled actions": len(actions.ScheduledActions), "alarms": len(alarms.MetricAlarms) + len(alarms.CompositeAlarms),
	} {
		if n > 0 {
			left = append(left, fmt.Sprintf("%d %s", n, kind))
		}
	}
	return left
}
