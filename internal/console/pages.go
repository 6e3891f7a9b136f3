package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/autoscaler"
	"github.com/ebbscale/ebb/internal/hosting"
)

// endpointRow is a line of the endpoints page.
type endpointRow struct {
	hosting.EndpointView
	Async    bool
	Policies []string
}

// endpoints lists every endpoint, filtered by name (?q=, as
// ListEndpoints' NameContains), with its variants and the policies on them.
func (h *Handler) endpoints(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	all, err := every(func(token string) ([]hosting.EndpointView, string, error) {
		return h.o.Endpoints.ListEndpoints(r.Context(), hosting.ListQuery{NameContains: q, SortBy: "Name", SortOrder: "Ascending", MaxResults: 100, NextToken: token})
	})
	if err != nil {
		h.fail(w, err)
		return
	}
	byResource := map[string][]string{}
	for _, p := range h.o.Scaling.Policies("sagemaker", nil, "", "") {
		byResource[p.Target.ResourceID] = append(byResource[p.Target.ResourceID], p.Name)
	}
	rows := make([]endpointRow, len(all))
	for i, e := range all {
		rows[i] = endpointRow{EndpointView: e, Async: len(e.AsyncConfig) > 0}
		for _, v := range e.Variants {
			rows[i].Policies = append(rows[i].Policies, byResource[variantResource(e.Name, v.Name)]...)
		}
	}
	h.render(w, r, "endpoints", "Endpoints", map[string]any{"Endpoints": rows, "Query": q})
}

// components lists an endpoint's inference components, by name.
func (h *Handler) components(ctx context.Context, endpoint string) ([]hosting.ComponentView, error) {
	return every(func(token string) ([]hosting.ComponentView, string, error) {
		return h.o.Endpoints.ListInferenceComponents(ctx, hosting.ComponentQuery{EndpointNameEquals: endpoint,
			ListQuery: hosting.ListQuery{SortBy: "Name", SortOrder: "Ascending", MaxResults: 100, NextToken: token}})
	})
}

// every gathers every page of a list call.
func every[T any](list func(token string) ([]T, string, error)) ([]T, error) {
	var all []T
	token := ""
	for {
		page, next, err := list(token)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if token = next; token == "" {
			return all, nil
		}
	}
}

// scaled is what scales on an endpoint, as Application Auto Scaling names
// it: a variant (instances), a serverless variant's provisioned
// concurrency, or an inference component (copies); chart is the chart its
// capacity is drawn on.
type scaled struct {
	name, resource, dim string
	desired, current    int
	chart               string // instances, provisioned, copies
}

// targets are an endpoint's variants, then its components.
func targets(ep hosting.EndpointView, components []hosting.ComponentView) []scaled {
	var out []scaled
	for _, v := range ep.Variants {
		if sl := v.Serverless; sl != nil {
			// Its environments follow its invocations: what scales is its
			// provisioned concurrency, if it has any.
			if sl.ProvisionedConcurrency != nil {
				cur := *sl.ProvisionedConcurrency
				if c := v.CurrentServerless; c != nil && c.ProvisionedConcurrency != nil {
					cur = *c.ProvisionedConcurrency
				}
				out = append(out, scaled{v.Name, variantResource(ep.Name, v.Name), autoscaler.ProvisionedDimension, *sl.ProvisionedConcurrency, cur, "provisioned"})
			}
			continue
		}
		out = append(out, scaled{v.Name, variantResource(ep.Name, v.Name), autoscaler.Dimension, v.DesiredCount, v.CurrentCount, "instances"})
	}
	for _, c := range components {
		out = append(out, scaled{c.Name, "inference-component/" + c.Name, autoscaler.ComponentDimension, c.DesiredCopies, c.CurrentCopies, "copies"})
	}
	return out
}

// serverless reports an endpoint of a serverless variant.
func serverless(ep hosting.EndpointView) bool {
	return slices.ContainsFunc(ep.Variants, func(v hosting.VariantView) bool { return v.Serverless != nil })
}

// variantResource is a variant's ResourceId in Application Auto Scaling.
func variantResource(endpoint, variant string) string {
	return "endpoint/" + endpoint + "/variant/" + variant
}

// policyView is a policy as the endpoint page shows it.
type policyView struct {
	autoscaler.PolicyView
	Variant string // or inference component
	Config  string // its configuration, as JSON
	// Steps are a step policy's intervals as metric values, against the
	// threshold of the alarm that runs it.
	Steps []stepView
}

type stepView struct {
	Alarm      string
	Threshold  float64
	From, To   string // metric values; "" for an open end
	Adjustment int
}

type scheduledView struct {
	autoscaler.ScheduledView
	Variant string
	Next    []time.Time
}

// endpoint is an endpoint's page: its variants, policies and scheduled
// actions, and the live charts and timeline the script fills in.
func (h *Handler) endpoint(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ep, err := h.o.Endpoints.DescribeEndpoint(r.Context(), name)
	if err != nil {
		h.fail(w, err)
		return
	}
	now := h.o.Clock.Now()
	components, err := h.components(r.Context(), name)
	if err != nil {
		h.fail(w, err)
		return
	}
	var policies []policyView
	var scheduled []scheduledView
	for _, t := range targets(ep, components) {
		for _, p := range h.o.Scaling.Policies("sagemaker", nil, t.resource, "") {
			pv := policyView{PolicyView: p, Variant: t.name}
			switch {
			case p.TT != nil:
				pv.Config = indent(p.TT.Config)
			case p.Pred != nil:
				pv.Config = indent(p.Pred.Config)
			default:
				pv.Config = indent(p.StepConfig)
				pv.Steps = h.steps(p)
			}
			policies = append(policies, pv)
		}
		for _, a := range h.o.Scaling.Scheduled("sagemaker", nil, t.resource, "") {
			sv := scheduledView{ScheduledView: a, Variant: t.name}
			for at := now; len(sv.Next) < 3; {
				next, ok := a.NextRun(at)
				if !ok {
					break
				}
				sv.Next, at = append(sv.Next, next), next
			}
			scheduled = append(scheduled, sv)
		}
	}
	h.render(w, r, "endpoint", name, map[string]any{"Endpoint": ep, "Async": len(ep.AsyncConfig) > 0, "Serverless": serverless(ep), "Components": components,
		"Policies": policies, "Scheduled": scheduled, "Logs": h.o.Logs != nil, "Ranges": ranges})
}

// steps are a step policy's intervals against each alarm that runs it:
// AWS adds the bounds to the alarm's threshold.
func (h *Handler) steps(p autoscaler.PolicyView) []stepView {
	if p.Step == nil {
		return nil
	}
	var out []stepView
	for _, a := range h.policyAlarms(p) {
		for _, s := range p.Step.Steps {
			sv := stepView{Alarm: a.AlarmName, Threshold: a.Threshold, Adjustment: s.Adjustment}
			if s.Lower != nil {
				sv.From = trimFloat(a.Threshold + *s.Lower)
			}
			if s.Upper != nil {
				sv.To = trimFloat(a.Threshold + *s.Upper)
			}
			out = append(out, sv)
		}
	}
	return out
}

// ranges are the time ranges a live page offers, the first the default.
var ranges = []string{"15m", "1h", "3h", "1d"}

func indent(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// report renders `ebb simulate --json` reports: the script reads the file
// a person opens, in the browser.
func (h *Handler) report(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "report", "Simulation report", nil)
}

// fail answers a service error: 404 for what does not exist.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, hosting.ErrNotFound) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	h.o.Logger.Error("console", "err", err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
