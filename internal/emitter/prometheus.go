package emitter

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ebbscale/ebb/internal/router"
)

// Prometheus holds the endpoint metrics ebb exposes on /metrics, kept in
// Prometheus's own idiom (counters and histograms, seconds) rather than
// CloudWatch's, so that they can be scraped and queried as usual.
type Prometheus struct {
	invocations *prometheus.CounterVec
	errors      *prometheus.CounterVec
	model       *prometheus.HistogramVec
	overhead    *prometheus.HistogramVec
	inFlight    *prometheus.GaugeVec
	instances   *prometheus.GaugeVec
	cpu         *prometheus.GaugeVec
	memory      *prometheus.GaugeVec
}

// NewPrometheus registers the endpoint metrics with reg.
func NewPrometheus(reg prometheus.Registerer) *Prometheus {
	labels := []string{"endpoint", "variant"}
	p := &Prometheus{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebb_invocations_total", Help: "InvokeEndpoint requests that reached a model."}, labels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebb_invocation_errors_total",
			Help: "Invocations that failed, by kind: 4xx and 5xx model answers, model (any non-2xx, connection error or timeout)."}, append(labels, "kind")),
		model: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ebb_model_latency_seconds", Help: "Time the model took to answer, as ebb saw it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)}, labels),
		overhead: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ebb_overhead_latency_seconds", Help: "Time ebb added before the model.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 16)}, labels),
		inFlight:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ebb_requests_in_flight", Help: "Invocations in flight."}, labels),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ebb_healthy_instances", Help: "Healthy instances taking traffic."}, labels),
		cpu:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ebb_instance_cpu_utilization_percent", Help: "CPU of an instance, summed over cores (0-100 x vCPUs)."}, append(labels, "instance")),
		memory:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ebb_instance_memory_utilization_percent", Help: "Resident memory of an instance as a share of its instance type's."}, append(labels, "instance")),
	}
	reg.MustRegister(p.invocations, p.errors, p.model, p.overhead, p.inFlight, p.instances, p.cpu, p.memory)
	return p
}

func (p *Prometheus) observe(s router.Sample) {
	if p == nil || s.Container != "" || s.Fleet != "" {
		// A container's or a fleet's share of a variant's sample: the
		// variant's own counts it already.
		return
	}
	p.invocations.WithLabelValues(s.Endpoint, s.Variant).Add(float64(s.Invocations))
	p.errors.WithLabelValues(s.Endpoint, s.Variant, "4xx").Add(float64(s.Errors4XX))
	p.errors.WithLabelValues(s.Endpoint, s.Variant, "5xx").Add(float64(s.Errors5XX))
	p.errors.WithLabelValues(s.Endpoint, s.Variant, "model").Add(float64(s.ModelErrors))
	m, o := p.model.WithLabelValues(s.Endpoint, s.Variant), p.overhead.WithLabelValues(s.Endpoint, s.Variant)
	for i := range s.ModelLatency {
		m.Observe(s.ModelLatency[i].Seconds())
		o.Observe(s.OverheadLatency[i].Seconds())
	}
	p.inFlight.WithLabelValues(s.Endpoint, s.Variant).Set(float64(s.InFlight))
	p.instances.WithLabelValues(s.Endpoint, s.Variant).Set(float64(s.Instances))
}

func (p *Prometheus) instance(endpoint, variant, id, metric string, v float64) {
	if p == nil {
		return
	}
	switch metric {
	case "CPUUtilization":
		p.cpu.WithLabelValues(endpoint, variant, id).Set(v)
	case "MemoryUtilization":
		p.memory.WithLabelValues(endpoint, variant, id).Set(v)
	}
}

// forget drops the series of an instance that is gone.
func (p *Prometheus) forget(id string) {
	if p == nil {
		return
	}
	p.cpu.DeletePartialMatch(prometheus.Labels{"instance": id})
	p.memory.DeletePartialMatch(prometheus.Labels{"instance": id})
}
