package hosting

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
)

// Serverless variants: SageMaker's serverless inference runs a variant on
// environments of MemorySizeInMB, as many as invocations arrive at once
// (up to MaxConcurrency), none when idle, with ProvisionedConcurrency of
// them kept warm. What it cannot combine with, it refuses: AWS's guide
// lists GPUs, multi-model endpoints, inference pipelines, data capture and
// several production variants; an asynchronous endpoint and inference
// components need instances. AWS's messages for these refusals are not
// documented: each names the member and the variant, in AWS's style.

// checkServerless refuses a serverless variant's configuration where
// SageMaker does; variants is the configuration's number of variants.
func checkServerless(pv ProductionVariant, variants int, async bool) error {
	c := pv.ServerlessConfig
	switch {
	case pv.InstanceType != "" || pv.InitialInstanceCount != nil:
		return errorf(ErrInvalid, "Production variant %q is serverless (ServerlessConfig): it takes no InstanceType or InitialInstanceCount.", pv.VariantName)
	case c.MemorySizeInMB == nil:
		return errorf(ErrInvalid, "ServerlessConfig of production variant %q needs MemorySizeInMB.", pv.VariantName)
	case c.MaxConcurrency == nil:
		return errorf(ErrInvalid, "ServerlessConfig of production variant %q needs MaxConcurrency.", pv.VariantName)
	case *c.MemorySizeInMB%1024 != 0:
		return errorf(ErrInvalid, "MemorySizeInMB (%d) of production variant %q must be one of 1024, 2048, 3072, 4096, 5120 or 6144: serverless memory comes in 1 GB increments.", *c.MemorySizeInMB, pv.VariantName)
	case c.ProvisionedConcurrency != nil && *c.ProvisionedConcurrency > *c.MaxConcurrency:
		return errorf(ErrInvalid, "ProvisionedConcurrency (%d) of production variant %q must be less than or equal to its MaxConcurrency (%d).", *c.ProvisionedConcurrency, pv.VariantName, *c.MaxConcurrency)
	case pv.ModelName == "":
		return errorf(ErrInvalid, "Production variant %q names no model, so it would host inference components, which need instances: give it InstanceType and InitialInstanceCount, not ServerlessConfig.", pv.VariantName)
	case pv.ManagedInstanceScaling != nil:
		return errorf(ErrInvalid, "Production variant %q is serverless: ManagedInstanceScaling is for variants of instances that host inference components.", pv.VariantName)
	case variants > 1:
		return errorf(ErrInvalid, "An endpoint configuration with a serverless variant (%q) has that one production variant only: serverless endpoints do not support multiple production variants.", pv.VariantName)
	case async:
		return errorf(ErrInvalid, "Production variant %q is serverless: AsyncInferenceConfig needs instances to queue requests for; give InstanceType and InitialInstanceCount.", pv.VariantName)
	}
	return nil
}

// updateServerless applies a ServerlessUpdateConfig to variant v of the
// endpoint arn, returning its new configuration (a copy: the record's
// rollback keeps the old one). AWS's messages for these refusals are not
// documented; each names the member and the variant.
func updateServerless(v variant, u ServerlessUpdate, arn string) (*ServerlessConfig, error) {
	if v.Serverless == nil {
		return nil, errorf(ErrInvalid, "The variant %q of endpoint %q is not serverless: ServerlessUpdateConfig is for serverless variants; change its DesiredInstanceCount instead.", v.Name, arn)
	}
	if u.MaxConcurrency == nil && u.ProvisionedConcurrency == nil {
		return nil, errorf(ErrInvalid, "ServerlessUpdateConfig of variant %q sets neither MaxConcurrency nor ProvisionedConcurrency.", v.Name)
	}
	c := *v.Serverless
	if u.MaxConcurrency != nil {
		c.MaxConcurrency = u.MaxConcurrency
	}
	if u.ProvisionedConcurrency != nil {
		c.ProvisionedConcurrency = u.ProvisionedConcurrency
	}
	if c.provisioned() > *c.MaxConcurrency {
		return nil, errorf(ErrInvalid, "ProvisionedConcurrency (%d) of production variant %q must be less than or equal to its MaxConcurrency (%d).", c.provisioned(), v.Name, *c.MaxConcurrency)
	}
	return &c, nil
}

// checkServerlessModel refuses a serverless variant of a model SageMaker
// does not run serverless: a multi-model one, or several containers (an
// inference pipeline).
func (s *Service) checkServerlessModel(ctx context.Context, pv ProductionVariant) error {
	m, err := s.DescribeModel(ctx, pv.ModelName)
	if err != nil {
		return err
	}
	var mr ModelSpec
	if err := json.Unmarshal(m.Request, &mr); err != nil {
		return err
	}
	if c, _ := mr.container(); c.Mode == "MultiModel" {
		return errorf(ErrInvalid, "Production variant %q is serverless, and model %s is a multi-model one (Mode MultiModel): serverless endpoints do not support multi-model endpoints.", pv.VariantName, m.Name)
	}
	if mr.execution() != "" {
		return errorf(ErrInvalid, "Production variant %q is serverless, and model %s has several containers: serverless endpoints do not support inference pipelines.", pv.VariantName, m.Name)
	}
	return nil
}

// serverlessType sizes a serverless variant's environments: MemorySizeInMB
// of memory and, as SageMaker (like Lambda) gives CPU in proportion to
// memory, a core per 2 GB (at least one). It names no instance type: an
// environment runs wherever the runtime has room (on Kubernetes, any node).
func serverlessType(c ServerlessConfig) runtime.InstanceType {
	return runtime.InstanceType{VCPUs: max(1, *c.MemorySizeInMB/2048), MemoryMiB: *c.MemorySizeInMB}
}

// DefaultServerlessIdle is how long a serverless environment stays after
// it was last needed. SageMaker does not document when it reclaims idle
// capacity; Lambda, whose model serverless inference follows, keeps idle
// environments for minutes, so ebb keeps them for five.
const DefaultServerlessIdle = 5 * time.Minute

// serverlessWant decides how many environments a serverless variant keeps:
// its provisioned concurrency, warm whatever the traffic, and beyond it
// one per invocation it held at once since the last decision (inflight,
// the router's peak; up to MaxConcurrency), and no fewer than it needed at
// once within the idle period: an on-demand environment goes once the
// variant has not needed that many for idle.
// busy[k] is when k+1 were last needed at once; the updated list is
// returned with the decision.
func serverlessWant(busy []time.Time, inflight int, c router.Serverless, now time.Time, idle time.Duration) ([]time.Time, int) {
	n := min(inflight, c.MaxConcurrency)
	for len(busy) < n {
		busy = append(busy, now)
	}
	for k := range n {
		busy[k] = now
	}
	// busy is oldest last: needing k+1 at once also needs k.
	want := 0
	for want < len(busy) && want < c.MaxConcurrency && now.Sub(busy[want]) < idle {
		want++
	}
	return busy[:want], max(want, c.ProvisionedConcurrency)
}

// followInvocations sets each serverless variant's environments from the
// invocations the router held for it at once (serverlessWant), and while
// any has on-demand environments, looks again a second later, to reclaim
// the idle.
func (e *endpoint) followInvocations() {
	if e.s.opts.PeakInFlight == nil || e.rec.Status == StatusDeleting || e.rec.Status == StatusFailed {
		return
	}
	now := e.s.opts.Clock.Now()
	again := false
	for i := range e.rec.Current.Variants {
		v := &e.rec.Current.Variants[i]
		if v.Serverless == nil {
			continue
		}
		var want int
		e.busy[v.Name], want = serverlessWant(e.busy[v.Name], e.s.opts.PeakInFlight(e.rec.Name, v.Name), v.Serverless.limits(), now, e.s.opts.ServerlessIdle)
		if want != v.DesiredCount {
			e.s.log.Debug("serverless environments", "endpoint", e.rec.Name, "variant", v.Name, "from", v.DesiredCount, "to", want)
			v.DesiredCount = want
		}
		again = again || want > v.Serverless.provisioned()
	}
	if again && !now.Before(e.sampleAt) {
		e.sampleAt = now.Add(time.Second)
		e.wakeIn(time.Second)
	}
}

// limits is what the router enforces of the configuration.
func (c ServerlessConfig) limits() router.Serverless {
	return router.Serverless{MaxConcurrency: *c.MaxConcurrency, ProvisionedConcurrency: c.provisioned()}
}

// provisioned is the provisioned concurrency (0 if none).
func (c ServerlessConfig) provisioned() int {
	if c.ProvisionedConcurrency == nil {
		return 0
	}
	return *c.ProvisionedConcurrency
}

// followDemand wakes the endpoints whose serverless variants the router
// asks environments for, until demand closes.
func (s *Service) followDemand(demand <-chan router.Demand) {
	for d := range demand {
		s.mu.Lock()
		e := s.endpoints[strings.ToLower(d.Endpoint)]
		s.mu.Unlock()
		if e != nil {
			select {
			case e.poke <- struct{}{}:
			default:
			}
		}
	}
}
