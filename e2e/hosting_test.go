package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	rtypes "github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/types"
	"github.com/aws/smithy-go"
)

const model = "ebb example-model --work-ms 1"

func variantOf(out *sagemaker.DescribeEndpointOutput) types.ProductionVariantSummary {
	return out.ProductionVariants[0]
}

func TestEndpointLifecycle(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm, rt := s.SageMaker(), s.Runtime()
	ctx := context.Background()
	deploy(t, sm, "lifecycle", model, 2)

	out := waitInService(t, sm, "lifecycle")
	v := variantOf(out)
	if *v.CurrentInstanceCount != 2 || *v.DesiredInstanceCount != 2 || len(s.instances()) != 2 {
		t.Fatalf("after create: current %d desired %d processes %d, want 2/2/2", *v.CurrentInstanceCount, *v.DesiredInstanceCount, len(s.instances()))
	}
	if got := *out.EndpointArn; got != "arn:aws:sagemaker:us-east-1:123456789012:endpoint/lifecycle" {
		t.Errorf("EndpointArn = %s", got)
	}

	res, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{
		EndpointName: aws.String("lifecycle"), Body: []byte("1,2,3\n4,5,6"),
		ContentType: aws.String("text/csv"), Accept: aws.String("text/csv"),
		CustomAttributes: aws.String("trace=abc"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(res.Body)), "\n"); len(lines) != 2 {
		t.Errorf("body %q: want two scores", res.Body)
	}
	if *res.InvokedProductionVariant != "AllTraffic" || *res.ContentType != "text/csv" || aws.ToString(res.CustomAttributes) != "trace=abc" {
		t.Errorf("variant %q, content type %q, custom attributes %q", *res.InvokedProductionVariant, *res.ContentType, aws.ToString(res.CustomAttributes))
	}

	// Scale out: Updating while the new instances start, then InService.
	if _, err := sm.UpdateEndpointWeightsAndCapacities(ctx, &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{
		EndpointName:                aws.String("lifecycle"),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("AllTraffic"), DesiredInstanceCount: aws.Int32(3)}},
	}); err != nil {
		t.Fatal(err)
	}
	during, _ := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("lifecycle")})
	if during.EndpointStatus != types.EndpointStatusUpdating && during.EndpointStatus != types.EndpointStatusInService {
		t.Errorf("status right after the change = %s", during.EndpointStatus)
	}
	if *variantOf(during).DesiredInstanceCount != 3 {
		t.Errorf("DesiredInstanceCount right after the change = %d, want 3", *variantOf(during).DesiredInstanceCount)
	}
	// While in progress, further updates are refused.
	if during.EndpointStatus == types.EndpointStatusUpdating {
		_, err := sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String("lifecycle")})
		expectAPIError(t, err, "ValidationException", `Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/lifecycle".`)
	}
	out = waitInService(t, sm, "lifecycle")
	if v := variantOf(out); *v.CurrentInstanceCount != 3 || len(s.instances()) != 3 {
		t.Fatalf("after scale-out: current %d, processes %d; want 3", *v.CurrentInstanceCount, len(s.instances()))
	}

	// Scale in.
	if _, err := sm.UpdateEndpointWeightsAndCapacities(ctx, &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{
		EndpointName:                aws.String("lifecycle"),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("AllTraffic"), DesiredInstanceCount: aws.Int32(1)}},
	}); err != nil {
		t.Fatal(err)
	}
	waitInService(t, sm, "lifecycle")
	waitFor(t, sm, "lifecycle", "scale-in to 1", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).CurrentInstanceCount == 1 && len(s.instances()) == 1
	})
	invoke(t, rt, "lifecycle", "1,2")

	// Delete.
	if _, err := sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String("lifecycle")}); err != nil {
		t.Fatal(err)
	}
	deleted := sagemaker.NewEndpointDeletedWaiter(sm, func(o *sagemaker.EndpointDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := deleted.Wait(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("lifecycle")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := len(s.instances()); n != 0 {
		t.Fatalf("%d instance processes left after delete", n)
	}
	_, err = rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("lifecycle"), Body: []byte("1")})
	expectAPIError(t, err, "ValidationError", "Endpoint lifecycle of account 123456789012 not found.")
}

func expectAPIError(t *testing.T, err error, code, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || (message != "" && ae.ErrorMessage() != message) {
		t.Fatalf("got %s: %q\nwant %s: %q", ae.ErrorCode(), ae.ErrorMessage(), code, message)
	}
}

// TestUpdateEndpointUnderTraffic moves an endpoint to a new configuration
// while clients keep invoking it: not one request may fail.
func TestUpdateEndpointUnderTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: blue/green update under load")
	}
	s := startServer(t, t.TempDir())
	sm, rt := s.SageMaker(), s.Runtime()
	ctx := context.Background()
	deploy(t, sm, "bluegreen", model, 2)
	waitInService(t, sm, "bluegreen")
	// Scale the live endpoint to 3, as autoscaling would have; the new config
	// says 1, and RetainAllVariantProperties keeps the 3.
	if _, err := sm.UpdateEndpointWeightsAndCapacities(ctx, &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{
		EndpointName:                aws.String("bluegreen"),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("AllTraffic"), DesiredInstanceCount: aws.Int32(3)}},
	}); err != nil {
		t.Fatal(err)
	}
	waitInService(t, sm, "bluegreen")
	createConfig(t, sm, "bluegreen-v2", "bluegreen-v2", "ebb example-model --work-ms 2 --startup-delay 300ms", 1)

	stop := traffic(rt, "bluegreen", 8)
	if _, err := sm.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{
		EndpointName: aws.String("bluegreen"), EndpointConfigName: aws.String("bluegreen-v2"), RetainAllVariantProperties: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	pending := waitFor(t, sm, "bluegreen", "pending deployment visible", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.PendingDeploymentSummary != nil || aws.ToString(o.EndpointConfigName) == "bluegreen-v2"
	})
	if p := pending.PendingDeploymentSummary; p != nil && aws.ToString(p.EndpointConfigName) != "bluegreen-v2" {
		t.Errorf("PendingDeploymentSummary.EndpointConfigName = %s", aws.ToString(p.EndpointConfigName))
	}
	out := waitFor(t, sm, "bluegreen", "cut over to bluegreen-v2", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == types.EndpointStatusInService && aws.ToString(o.EndpointConfigName) == "bluegreen-v2"
	})
	waitFor(t, sm, "bluegreen", "old fleet stopped", func(*sagemaker.DescribeEndpointOutput) bool { return len(s.instances()) == 3 })
	ok, failed, firstErr := stop()
	if v := variantOf(out); *v.DesiredInstanceCount != 3 || *v.CurrentInstanceCount != 3 {
		t.Errorf("retained count: desired %d current %d, want 3", *v.DesiredInstanceCount, *v.CurrentInstanceCount)
	}
	if *variantOf(out).DeployedImages[0].SpecifiedImage != "ebb example-model --work-ms 2 --startup-delay 300ms" {
		t.Errorf("DeployedImages = %+v", variantOf(out).DeployedImages)
	}
	t.Logf("%d requests during the update, %d failed", ok, failed)
	if failed > 0 {
		t.Fatalf("%d of %d requests failed during UpdateEndpoint; first: %v", failed, ok+failed, firstErr)
	}
	if ok < 50 {
		t.Fatalf("only %d requests ran during the update: the test did not exercise it", ok)
	}
}

// TestRouting checks weights, target variants and ModelError.
func TestRouting(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm, rt := s.SageMaker(), s.Runtime()
	ctx := context.Background()
	for _, m := range []string{"route-a", "route-b"} {
		if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(m), PrimaryContainer: &types.ContainerDefinition{Image: aws.String("ebb example-model --work-ms 0")}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{
		EndpointConfigName: aws.String("route"),
		ProductionVariants: []types.ProductionVariant{
			{VariantName: aws.String("A"), ModelName: aws.String("route-a"), InstanceType: types.ProductionVariantInstanceTypeMlC5Large, InitialInstanceCount: aws.Int32(1), InitialVariantWeight: aws.Float32(1)},
			{VariantName: aws.String("B"), ModelName: aws.String("route-b"), InstanceType: types.ProductionVariantInstanceTypeMlC5Large, InitialInstanceCount: aws.Int32(1), InitialVariantWeight: aws.Float32(3)},
		},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("route"), EndpointConfigName: aws.String("route")}); err != nil {
		t.Fatal(err)
	}
	waitInService(t, sm, "route")

	counts := map[string]int{}
	const n = 400
	for range n {
		counts[*invoke(t, rt, "route", "1").InvokedProductionVariant]++
	}
	// B has weight 3 of 4: expect 300 of 400; 5 standard deviations is ±43.
	if counts["B"] < 257 || counts["B"] > 343 {
		t.Errorf("variant split %v, want about 100/300", counts)
	}
	for range 20 {
		res, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("route"), Body: []byte("1"), TargetVariant: aws.String("A")})
		if err != nil || *res.InvokedProductionVariant != "A" {
			t.Fatalf("TargetVariant A: %v %v", res, err)
		}
	}
	_, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("route"), Body: []byte("1"), TargetVariant: aws.String("C")})
	expectAPIError(t, err, "ValidationError", "")

	_, err = rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("route"), Body: []byte("1,x"), ContentType: aws.String("text/csv")})
	var me *rtypes.ModelError
	if !errors.As(err, &me) {
		t.Fatalf("bad input: got %v, want ModelError", err)
	}
	if aws.ToInt32(me.OriginalStatusCode) != 400 || !strings.Contains(aws.ToString(me.OriginalMessage), "not a number") ||
		!strings.HasPrefix(me.ErrorMessage(), "Received client error (400) from primary with message") {
		t.Fatalf("ModelError = status %d, original %q, message %q", aws.ToInt32(me.OriginalStatusCode), aws.ToString(me.OriginalMessage), me.ErrorMessage())
	}

	big := make([]byte, 6*1024*1024+1)
	_, err = rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("route"), Body: big})
	expectAPIError(t, err, "ValidationError", "")
}

// TestFailedEndpoint deploys a model that cannot start.
func TestFailedEndpoint(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm := s.SageMaker()
	deploy(t, sm, "broken", "sh -c 'echo cannot load weights >&2; exit 3'", 1)
	w := sagemaker.NewEndpointInServiceWaiter(sm, func(o *sagemaker.EndpointInServiceWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String("broken")}, time.Minute); err == nil {
		t.Fatal("the waiter succeeded for an endpoint whose model exits")
	}
	out := waitFor(t, sm, "broken", "Failed", func(o *sagemaker.DescribeEndpointOutput) bool { return o.EndpointStatus == types.EndpointStatusFailed })
	if !strings.Contains(aws.ToString(out.FailureReason), "AllTraffic") {
		t.Errorf("FailureReason = %q", aws.ToString(out.FailureReason))
	}
	if n := len(s.instances()); n != 0 {
		t.Errorf("%d instances left on a failed endpoint", n)
	}
	if _, err := sm.DeleteEndpoint(context.Background(), &sagemaker.DeleteEndpointInput{EndpointName: aws.String("broken")}); err != nil {
		t.Fatalf("deleting a failed endpoint: %v", err)
	}
}

// TestRollback makes a capacity change fail: the endpoint goes RollingBack
// and returns to InService with its old capacity.
func TestRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	s := startServer(t, t.TempDir())
	sm := s.SageMaker()
	marker := filepath.Join(t.TempDir(), "fail")
	deploy(t, sm, "rollback", "sh -c 'test -e "+marker+" && exit 1; exec ebb example-model'", 1)
	waitInService(t, sm, "rollback")
	os.WriteFile(marker, nil, 0o644) // new instances now fail to start
	if _, err := sm.UpdateEndpointWeightsAndCapacities(context.Background(), &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{
		EndpointName:                aws.String("rollback"),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("AllTraffic"), DesiredInstanceCount: aws.Int32(3)}},
	}); err != nil {
		t.Fatal(err)
	}
	var sawRollingBack atomic.Bool
	out := waitFor(t, sm, "rollback", "rolled back", func(o *sagemaker.DescribeEndpointOutput) bool {
		if o.EndpointStatus == types.EndpointStatusRollingBack {
			sawRollingBack.Store(true)
		}
		return o.EndpointStatus == types.EndpointStatusInService && *variantOf(o).DesiredInstanceCount == 1
	})
	if *variantOf(out).CurrentInstanceCount != 1 || aws.ToString(out.FailureReason) == "" {
		t.Errorf("after rollback: current %d, FailureReason %q", *variantOf(out).CurrentInstanceCount, aws.ToString(out.FailureReason))
	}
	if !strings.Contains(s.Log(), "to=RollingBack") {
		t.Error("the server never logged the RollingBack status")
	}
}

// TestInstanceReplacement kills an instance: DescribeEndpoint shows the gap
// while the replacement starts, then the endpoint is whole again.
func TestInstanceReplacement(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm := s.SageMaker()
	deploy(t, sm, "heal", "ebb example-model --startup-delay 500ms", 2)
	waitInService(t, sm, "heal")
	var victim int
	for _, pid := range s.instances() {
		victim = pid
		break
	}
	if err := killPID(victim); err != nil {
		t.Fatal(err)
	}
	out := waitFor(t, sm, "heal", "replacement visible", func(o *sagemaker.DescribeEndpointOutput) bool {
		v := variantOf(o)
		return *v.CurrentInstanceCount == 1 && len(v.VariantStatus) > 0 && v.VariantStatus[0].Status == types.VariantStatusCreating
	})
	if out.EndpointStatus != types.EndpointStatusInService {
		t.Errorf("endpoint status while replacing = %s, want InService", out.EndpointStatus)
	}
	waitFor(t, sm, "heal", "replaced", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).CurrentInstanceCount == 2 && len(variantOf(o).VariantStatus) == 0
	})
	if !strings.Contains(s.Log(), "instance failed; replacing it") {
		t.Error("the replacement was not logged")
	}
}

func invocation(endpoint string) *sagemakerruntime.InvokeEndpointInput {
	return &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String(endpoint), Body: []byte("1,2,3"), ContentType: aws.String("text/csv")}
}

func describe(name string) *sagemaker.DescribeEndpointInput {
	return &sagemaker.DescribeEndpointInput{EndpointName: aws.String(name)}
}
