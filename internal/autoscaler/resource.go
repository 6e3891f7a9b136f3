package autoscaler

import (
	"context"
	"time"

	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
)

// resourceKind is one kind of scalable resource (a service namespace and a
// scalable dimension): it parses resource IDs into resources.
type resourceKind interface {
	parse(id string) (resource, bool)
}

// resource is one scalable resource, its capacity read and set through
// hosting.
type resource interface {
	// endpoint is the SageMaker endpoint the resource belongs to, or
	// inference-component/<name> for a component: its deletion (hosting's
	// Deleted) deregisters the target.
	endpoint() string
	// capacity reads the desired and current capacity; settled is false
	// while the endpoint is being changed (then reason may say why a change
	// failed). registrable is the error that keeps a target from being
	// registered now (nil: it may be).
	capacity(ctx context.Context, h Hosting) (c capacity, err error)
	// set asks for n; an error wrapping hosting.ErrInProgress is retried.
	set(ctx context.Context, h Hosting, n int) error
	// predefined resolves a PredefinedMetricType into the queries of its
	// metric; highRes marks a high-resolution metric.
	predefined(metricType string) (queries []metricquery.Query, highRes, ok bool)
	// loadMetric is the load metric of a predictive metric pair, named by
	// its scaling metric, and the load one unit of capacity carries per
	// unit of the scaling metric (predictive.go).
	loadMetric(scalingMetric string) (queries []metricquery.Query, perUnit float64, ok bool)
	// noun names the capacity in activity messages ("instance count").
	noun() string
	// serviceRole is the service-linked role AAS reports for the target.
	serviceRole(region, account string) string
}

// capacity is a resource's capacity as hosting reports it.
type capacity struct {
	desired, current int
	settled          bool   // the endpoint is InService
	reason           string // the endpoint's FailureReason
	registrable      error  // why a target cannot be registered now
	least            int    // the least MinCapacity the resource takes
}

// kinds is the registry of scalable resources, keyed by service namespace
// and scalable dimension. Adding one is an adapter file and a line here.
var kinds = map[string]resourceKind{
	Namespace + "|" + Dimension:            variantKind{},
	Namespace + "|" + ComponentDimension:   componentKind{},
	Namespace + "|" + ProvisionedDimension: provisionedKind{},
}

// parseResource resolves a target's identity through the registry.
func parseResource(ns, id, dim string) (resource, error) {
	if k, ok := kinds[ns+"|"+dim]; ok {
		if r, ok := k.parse(id); ok {
			return r, nil
		}
	}
	return nil, errorf(ErrValidation, "Unsupported service namespace, resource type or scalable dimension")
}

// metricQuery is the one query of a plain metric.
func metricQuery(ns, name, stat, unit string, dims []metrics.Dimension, period time.Duration) []metricquery.Query {
	return []metricquery.Query{{ID: "m1", ReturnData: true, MetricStat: &metricquery.MetricStat{
		Series: metrics.Series{Namespace: ns, MetricName: name, Dimensions: dims}, Period: period, Stat: stat, Unit: unit}}}
}
