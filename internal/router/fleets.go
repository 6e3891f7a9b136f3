package router

import (
	"math/rand/v2"
	"slices"
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

// fleetFor returns the variant route to send an invocation to: the fleet
// of the instance holding its stateful session (pinned), else the green
// fleet's with the probability of its share, else v. A green fleet with
// no healthy instance (one died while baking) takes nothing: v still can.
func (v *variantRoute) fleetFor(pinned *backend) *variantRoute {
	g := v.green
	switch {
	case g == nil || len(g.backends) == 0:
		return v
	case pinned != nil:
		if slices.Contains(g.backends, pinned) {
			return g
		}
		return v
	case g.share >= 1 || len(v.backends) == 0 || rand.Float64() < g.share:
		return g
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
