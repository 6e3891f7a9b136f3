// Package modelmetrics publishes what model servers report about
// themselves into CloudWatch, so that a target-tracking policy with a
// customized metric (metric math included) scales on it: the requests an
// LLM engine has waiting or running, its KV-cache use. SageMaker offers
// only its own metrics; every open system that autoscales LLMs scales on
// these.
//
// A model asks for it in its container's Environment, as SageMaker models
// configure everything (PathKey: the path of its Prometheus endpoint on
// the port it serves on; NamesKey, optionally: the metrics to publish,
// else Defaults, vLLM's, TGI's and SGLang's). Every ten seconds the
// Scraper reads each instance (and inference component copy) that asks,
// with the Prometheus parser, and publishes into Namespace:
//
//   - per instance (dimensions EndpointName, VariantName and InstanceId;
//     a copy's: InferenceComponentName and InstanceId), each metric's value;
//   - per variant (EndpointName, VariantName) and per inference component
//     (InferenceComponentName): a count (a gauge such as waiting requests)
//     as one datapoint per scrape, the fleet's sum; a counter as the
//     fleet's increase since the last scrape (its Sum over a period is the
//     period's increase); a ratio (a share such as KV-cache use) as one
//     datapoint per instance per scrape, so that its Average is the
//     fleet's mean and its Maximum the fullest instance;
//   - ScrapedTargets: how many instances answered, per variant and
//     component, so that metric math can divide a sum per instance.
//
// An instance that does not answer publishes nothing (never a zero): the
// fleet's figures are those of the instances that answered, and a fleet
// none of whose instances answered publishes nothing, so that an alarm
// sees missing data rather than an idle fleet.
package modelmetrics
