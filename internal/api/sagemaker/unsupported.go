package sagemaker

import (
	"encoding/json"
	"sort"

	"github.com/ebbscale/ebb/internal/fault"
	"github.com/ebbscale/ebb/internal/hosting"
)

// Members of requests that ebb does not implement yet. A request that sets
// one is refused (ValidationException naming the member) rather than
// accepted and silently not honoured.
var (
	unsupportedConfig = map[string]string{
		"DataCaptureConfig":        "data capture",
		"ShadowProductionVariants": "shadow variants",
		"ExplainerConfig":          "online explainability",
	}
	unsupportedEndpoint = map[string]string{
		"DeploymentConfig": "blue/green canary and linear deployments and auto-rollback alarms (ebb shifts all traffic at once when the new fleet is healthy)",
	}
	unsupportedModel = map[string]string{
		"InferenceExecutionConfig": "multi-container endpoints with direct invocation",
	}
)

// refuseUnsupported returns the error for the first (by name) member of
// body that ebb does not honour, or nil.
func refuseUnsupported(body []byte, members map[string]string) error {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return nil // the decoder reports it
	}
	var set []string
	for name := range members {
		if v, ok := top[name]; ok && string(v) != "null" {
			set = append(set, name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	sort.Strings(set)
	return fault.Errorf(hosting.ErrInvalid, "ebb does not support %s (%s) yet; remove %s from the request.", members[set[0]], set[0], set[0])
}
