package router

import (
	"math/rand/v2"
)

// Blue/green deployments: while an endpoint moves to a new endpoint
// configuration, a variant has two fleets, the old one (blue, the
// variant's own instances) and the new one (green), and the router sends
// each request to the green fleet with the probability of its share of
// traffic. Each fleet's invocations also count apart, under its endpoint
// configuration's name (Sample.Fleet), so that an alarm can watch the new
// fleet alone, as SageMaker's deployment guardrails let one; the variant's
// own figures count both.

// Fleet is the new fleet of a variant during a blue/green deployment.
type Fleet struct {
	// Config is the endpoint configuration it runs.
	Config    string
	Instances []Instance
	// Share is its share of the variant's traffic, 0 to 1.
	Share float64
}

// fleetFor returns the variant route to send an invocation to: the green
// fleet's with the probability of its share, else v.
func (v *variantRoute) fleetFor() *variantRoute {
	if v.green == nil || v.green.share <= 0 {
		return v
	}
	if v.green.share >= 1 || rand.Float64() < v.green.share {
		return v.green
	}
	return v
}

// greenRoute builds the route of a variant's green fleet: its own
// instances, the variant's statistics and its fleet's.
func (r *Router) greenRoute(endpoint string, v Variant, vr *variantRoute, keep map[string]bool) *variantRoute {
	g := *vr
	g.green, g.containers = nil, nil
	g.backends = r.backendsOf(v.Green.Instances, keep)
	g.share = v.Green.Share
	g.fleet = r.statsOf(statsKey{endpoint: endpoint, variant: v.Name, fleet: v.Green.Config})
	g.fleet.setInstances(len(v.Green.Instances), false)
	return &g
}
