package autoscaler

import (
	"context"
	"fmt"
	"github.com/ebbscale/ebb/internal/arn"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
)

// The SageMaker production variant: endpoint/<name>/variant/<name>,
// sagemaker:variant:DesiredInstanceCount.
const (
	Namespace = "sagemaker"
	Dimension = "sagemaker:variant:DesiredInstanceCount"
)

// Predefined metric types of SageMaker variants.
const (
	InvocationsPerInstance    = "SageMakerVariantInvocationsPerInstance"
	ConcurrentRequestsHighRes = "SageMakerVariantConcurrentRequestsPerModelHighResolution"
)

type variantKind struct{}

func (variantKind) parse(id string) (resource, bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 4 || parts[0] != "endpoint" || parts[2] != "variant" || parts[1] == "" || parts[3] == "" {
		return nil, false
	}
	return variant{ep: parts[1], name: parts[3]}, true
}

// variant is a production variant of an endpoint.
type variant struct{ ep, name string }

func (v variant) endpoint() string { return v.ep }
func (variant) noun() string       { return "instance count" }

func (variant) serviceRole(region, account string) string {
	// IAM ARNs have no region, only the region's partition.
	return fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint", arn.Partition(region), account)
}

func (v variant) capacity(ctx context.Context, h Hosting) (capacity, error) {
	view, err := h.DescribeEndpoint(ctx, v.ep)
	if err != nil {
		return capacity{registrable: errorf(ErrValidation, "Could not find endpoint %s. The endpoint must exist and be InService to register it as a scalable target.", v.ep)}, err
	}
	c := capacity{settled: view.Status == hosting.StatusInService, reason: view.FailureReason}
	if !c.settled {
		c.registrable = errorf(ErrValidation, "The endpoint %s is in status %s. The status should be in 'InService' to register it as a scalable target.", v.ep, view.Status)
	}
	for _, vv := range view.Variants {
		if vv.Name == v.name {
			c.desired, c.current = vv.DesiredCount, vv.CurrentCount
			if vv.Serverless != nil {
				c.registrable = errorf(ErrValidation, "The variant %s of endpoint %s is serverless: it has no instance count to scale: register sagemaker:variant:DesiredProvisionedConcurrency, its provisioned concurrency, instead.", v.name, v.ep)
			}
			return c, nil
		}
	}
	c.registrable = errorf(ErrValidation, "The variant %s does not exist in endpoint %s.", v.name, v.ep)
	return c, fmt.Errorf("variant %s is not in endpoint %s", v.name, v.ep)
}

func (v variant) set(ctx context.Context, h Hosting, n int) error {
	_, err := h.UpdateEndpointWeightsAndCapacities(ctx, v.ep, []hosting.WeightAndCapacity{{VariantName: v.name, DesiredInstanceCount: &n}})
	return err
}

// loadMetric: the variant's Invocations per hour; the scaling metric,
// InvocationsPerInstance, is per minute.
func (v variant) loadMetric(scalingMetric string) ([]metricquery.Query, float64, bool) {
	if scalingMetric != InvocationsPerInstance {
		return nil, 0, false
	}
	dims := []metrics.Dimension{{Name: "EndpointName", Value: v.ep}, {Name: "VariantName", Value: v.name}}
	return metricQuery("AWS/SageMaker", "Invocations", "Sum", "", dims, time.Hour), 60, true
}

func (v variant) predefined(metricType string) ([]metricquery.Query, bool, bool) {
	dims := []metrics.Dimension{{Name: "EndpointName", Value: v.ep}, {Name: "VariantName", Value: v.name}}
	switch metricType {
	case InvocationsPerInstance:
		return metricQuery("AWS/SageMaker", "InvocationsPerInstance", "Sum", "", dims, time.Minute), false, true
	case ConcurrentRequestsHighRes:
		return metricQuery("AWS/SageMaker", "ConcurrentRequestsPerModel", "Average", "", dims, 10*time.Second), true, true
	}
	return nil, false, false
}
