package autoscaler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/arn"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
)

// The SageMaker inference component: inference-component/<name>,
// sagemaker:inference-component:DesiredCopyCount, its capacity read with
// DescribeInferenceComponent and set with
// UpdateInferenceComponentRuntimeConfig (the calls AAS's service-linked
// role is allowed for components).
const ComponentDimension = "sagemaker:inference-component:DesiredCopyCount"

// Predefined metric types of inference components.
const (
	InvocationsPerCopy            = "SageMakerInferenceComponentInvocationsPerCopy"
	ConcurrentRequestsPerCopyHRes = "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
)

type componentKind struct{}

func (componentKind) parse(id string) (resource, bool) {
	name, ok := strings.CutPrefix(id, "inference-component/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil, false
	}
	return inferenceComponent{name}, true
}

// inferenceComponent is an inference component.
type inferenceComponent struct{ name string }

// endpoint is the key hosting's Deleted sends when the component is
// deleted (its target is deregistered then).
func (c inferenceComponent) endpoint() string { return "inference-component/" + c.name }
func (inferenceComponent) noun() string       { return "copy count" }

func (inferenceComponent) serviceRole(region, account string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint", arn.Partition(region), account)
}

func (c inferenceComponent) capacity(ctx context.Context, h Hosting) (capacity, error) {
	v, err := h.DescribeInferenceComponent(ctx, c.name)
	if err != nil {
		return capacity{registrable: errorf(ErrValidation, "Could not find inference component %s. The inference component must exist and be InService to register it as a scalable target.", c.name)}, err
	}
	out := capacity{desired: v.DesiredCopies, current: v.CurrentCopies, settled: v.Status == hosting.ComponentInService, reason: v.FailureReason}
	if v.Status != hosting.ComponentInService && v.Status != hosting.ComponentUpdating {
		out.registrable = errorf(ErrValidation, "The inference component %s is in status %s. The status should be in 'InService' to register it as a scalable target.", c.name, v.Status)
	}
	if v.Status == hosting.ComponentUpdating || v.Status == hosting.ComponentCreating {
		out.reason = "" // copies still being placed: not a failure yet
	}
	return out, nil
}

func (c inferenceComponent) set(ctx context.Context, h Hosting, n int) error {
	_, err := h.UpdateInferenceComponentRuntimeConfig(ctx, c.name, n)
	return err
}

// loadMetric: the component's Invocations per hour; the scaling metric,
// InvocationsPerCopy, is per minute.
func (c inferenceComponent) loadMetric(scalingMetric string) ([]metricquery.Query, float64, bool) {
	if scalingMetric != InvocationsPerCopy {
		return nil, 0, false
	}
	dims := []metrics.Dimension{{Name: "InferenceComponentName", Value: c.name}}
	return metricQuery("AWS/SageMaker", "Invocations", "Sum", "", dims, time.Hour), 60, true
}

func (c inferenceComponent) predefined(metricType string) ([]metricquery.Query, bool, bool) {
	dims := []metrics.Dimension{{Name: "InferenceComponentName", Value: c.name}}
	switch metricType {
	case InvocationsPerCopy:
		return metricQuery("AWS/SageMaker", "InvocationsPerCopy", "Sum", "", dims, time.Minute), false, true
	case ConcurrentRequestsPerCopyHRes:
		return metricQuery("AWS/SageMaker", "ConcurrentRequestsPerCopy", "Average", "", dims, 10*time.Second), true, true
	}
	return nil, false, false
}
