package modelmetrics

import (
	"fmt"
	"strings"
	"time"
)

// The Environment keys of a model's container.
const (
	// PathKey is the path of the model server's Prometheus endpoint on the
	// port it serves invocations on (vLLM, TGI and SGLang serve /metrics
	// there), e.g. EBB_METRICS_PATH=/metrics.
	PathKey = "EBB_METRICS_PATH"
	// NamesKey lists the metrics to publish, comma-separated; a gauge
	// that is a share rather than a count is marked NAME=ratio. Without
	// it, Defaults.
	NamesKey = "EBB_METRICS_NAMES"
)

// Namespace is the CloudWatch namespace of the metrics published.
const Namespace = "ebb/ModelServer"

// Every is how often instances are read.
const Every = 10 * time.Second

// Kind is how a gauge adds up over a fleet (a counter is always summed).
type Kind uint8

const (
	// Count gauges (requests waiting, running) are summed.
	Count Kind = iota
	// Ratio gauges (the share of the KV cache in use) are averaged, and
	// their maximum kept.
	Ratio
)

// Defaults are the metrics of vLLM, TGI and SGLang that tell load.
var Defaults = map[string]Kind{
	// vLLM (v0 and v1 engine names).
	"vllm:num_requests_running":    Count,
	"vllm:num_requests_waiting":    Count,
	"vllm:num_requests_swapped":    Count,
	"vllm:gpu_cache_usage_perc":    Ratio,
	"vllm:kv_cache_usage_perc":     Ratio,
	"vllm:num_preemptions_total":   Count,
	"vllm:prompt_tokens_total":     Count,
	"vllm:generation_tokens_total": Count,
	"vllm:request_success_total":   Count,
	"tgi_queue_size":               Count,
	"tgi_batch_current_size":       Count,
	"tgi_batch_current_max_tokens": Count,
	"tgi_request_count":            Count,
	"sglang:num_running_reqs":      Count,
	"sglang:num_queue_reqs":        Count,
	"sglang:num_used_tokens":       Count,
	"sglang:token_usage":           Ratio,
	"sglang:cache_hit_rate":        Ratio,
	"sglang:gen_throughput":        Count,
}

// Config is what a model asks to have published.
type Config struct {
	Path  string
	Names map[string]Kind
}

// FromEnvironment reads a container's Environment: false when it asks for
// nothing, an error naming the key when it asks wrongly.
func FromEnvironment(env map[string]string) (Config, bool, error) {
	path, ok := env[PathKey]
	names, named := env[NamesKey]
	switch {
	case !ok && !named:
		return Config{}, false, nil
	case !ok:
		return Config{}, false, fmt.Errorf("%s needs %s, the path of the model server's Prometheus endpoint", NamesKey, PathKey)
	case !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#"):
		return Config{}, false, fmt.Errorf("%s %q: want a path such as /metrics", PathKey, path)
	}
	c := Config{Path: path, Names: Defaults}
	if named {
		c.Names = map[string]Kind{}
		for _, item := range strings.Split(names, ",") {
			name, kind, _ := strings.Cut(strings.TrimSpace(item), "=")
			if name == "" {
				continue
			}
			switch kind {
			case "", "count":
				c.Names[name] = Count
			case "ratio":
				c.Names[name] = Ratio
			default:
				return Config{}, false, fmt.Errorf("%s: %s=%s: a metric is a count (summed) or =ratio (averaged)", NamesKey, name, kind)
			}
		}
		if len(c.Names) == 0 {
			return Config{}, false, fmt.Errorf("%s names no metric", NamesKey)
		}
	}
	return c, true, nil
}
