package autoscaler

import (
	"context"
	"fmt"
	"time"

	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
)

// A serverless variant's provisioned concurrency:
// endpoint/<name>/variant/<name>, sagemaker:variant:DesiredProvisionedConcurrency,
// read with DescribeEndpoint (its Current and Desired ServerlessConfig)
// and set with UpdateEndpointWeightsAndCapacities' ServerlessUpdateConfig.
// SageMaker's guide registers it only on a variant deployed with
// provisioned concurrency, with MinCapacity 1 or more: a serverless
// variant with none is on-demand, which AAS does not scale.
const ProvisionedDimension = "sagemaker:variant:DesiredProvisionedConcurrency"

// ProvisionedConcurrencyUtilization is its predefined metric: the
// executions on provisioned concurrency over what is provisioned, a ratio
// (SageMaker's examples track 0.5 to 0.9), averaged over a minute.
const ProvisionedConcurrencyUtilization = "SageMakerVariantProvisionedConcurrencyUtilization"

type provisionedKind struct{}

func (provisionedKind) parse(id string) (resource, bool) {
	r, ok := variantKind{}.parse(id)
	if !ok {
		return nil, false
	}
	return provisioned{r.(variant)}, true
}

// provisioned is a serverless variant's provisioned concurrency; it shares
// the variant's identity and service-linked role.
type provisioned struct{ variant }

func (provisioned) noun() string { return "provisioned concurrency" }

func (p provisioned) capacity(ctx context.Context, h Hosting) (capacity, error) {
	view, err := h.DescribeEndpoint(ctx, p.ep)
	if err != nil {
		return capacity{registrable: errorf(ErrValidation, "Could not find endpoint %s. The endpoint must exist and be InService to register it as a scalable target.", p.ep)}, err
	}
	c := capacity{settled: view.Status == hosting.StatusInService, reason: view.FailureReason, least: 1}
	if !c.settled {
		c.registrable = errorf(ErrValidation, "The endpoint %s is in status %s. The status should be in 'InService' to register it as a scalable target.", p.ep, view.Status)
	}
	for _, vv := range view.Variants {
		if vv.Name != p.name {
			continue
		}
		if vv.Serverless == nil || vv.Serverless.ProvisionedConcurrency == nil {
			c.registrable = errorf(ErrValidation, "The variant %s of endpoint %s has no provisioned concurrency to scale: register sagemaker:variant:DesiredProvisionedConcurrency on a serverless variant deployed with ProvisionedConcurrency.", p.name, p.ep)
			return c, nil
		}
		c.desired = *vv.Serverless.ProvisionedConcurrency
		c.current = c.desired
		if cur := vv.CurrentServerless; cur != nil && cur.ProvisionedConcurrency != nil {
			c.current = *cur.ProvisionedConcurrency
		}
		return c, nil
	}
	c.registrable = errorf(ErrValidation, "The variant %s does not exist in endpoint %s.", p.name, p.ep)
	return c, fmt.Errorf("variant %s is not in endpoint %s", p.name, p.ep)
}

func (p provisioned) set(ctx context.Context, h Hosting, n int) error {
	_, err := h.UpdateEndpointWeightsAndCapacities(ctx, p.ep, []hosting.WeightAndCapacity{{VariantName: p.name,
		ServerlessUpdateConfig: &hosting.ServerlessUpdate{ProvisionedConcurrency: &n}}})
	return err
}

// loadMetric: none yet; a predictive policy on provisioned concurrency is
// refused.
func (provisioned) loadMetric(string) ([]metricquery.Query, float64, bool) { return nil, 0, false }

func (p provisioned) predefined(metricType string) ([]metricquery.Query, bool, bool) {
	if metricType != ProvisionedConcurrencyUtilization {
		return nil, false, false
	}
	dims := []metrics.Dimension{{Name: "EndpointName", Value: p.ep}, {Name: "VariantName", Value: p.name}}
	return metricQuery("AWS/SageMaker", "ServerlessProvisionedConcurrencyUtilization", "Average", "", dims, time.Minute), false, true
}
