package sagemaker

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/ebbscale/ebb/internal/fault"
	"github.com/ebbscale/ebb/internal/hosting"
)

// Members of requests that ebb does not implement yet, with what each asks
// for. A request that sets one to a value that asks for something is refused
// (ValidationException naming the member and its value) rather than accepted
// and silently not honoured. A value that asks for nothing (see idle) is
// accepted and echoed back by Describe*, as SageMaker echoes it: Terraform,
// for one, sends EnableSSMAccess false in every production variant.
var (
	unsupportedConfig = map[string]string{
		"DataCaptureConfig":        "data capture",
		"ShadowProductionVariants": "shadow variants",
		"ExplainerConfig":          "online explainability",
	}
	unsupportedVariant = map[string]string{
		"InstancePools": "instance pools",
		"VariantInstanceProvisionTimeoutInSeconds":    "instance provisioning timeouts",
		"AcceleratorType":                             "Elastic Inference accelerators",
		"CoreDumpConfig":                              "core dumps",
		"VolumeSizeInGB":                              "sized ML storage volumes",
		"ModelDataDownloadTimeoutInSeconds":           "per-variant model download timeouts (the runtime's --instance-start-limit bounds the whole start)",
		"ContainerStartupHealthCheckTimeoutInSeconds": "per-variant startup health check timeouts (the runtime's --instance-start-limit bounds the whole start)",
		"EnableSSMAccess":                             "SSM access to instances",
		"InferenceAmiVersion":                         "inference AMI versions",
		"CapacityReservationConfig":                   "capacity reservations",
	}
	unsupportedManaged = map[string]string{
		"ScaleInPolicy": "scale-in policies of managed instance scaling (ebb removes an instance once it has no copies)",
	}
)

// idle reports whether a member's value asks for no behaviour: null, false,
// an empty string, list or map, an object whose members are all idle, or a
// DataCaptureConfig whose EnableCapture is false (SageMaker's default is
// true, so only an explicit false turns capture off whatever else is set).
func idle(name string, v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	switch string(v) {
	case "", "null", "false", `""`, "[]", "{}":
		return true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		var list []json.RawMessage
		if json.Unmarshal(v, &list) != nil {
			return false // a number, true or a non-empty string
		}
		for _, e := range list {
			if !idle("", e) {
				return false
			}
		}
		return true
	}
	if name == "DataCaptureConfig" && string(bytes.TrimSpace(obj["EnableCapture"])) == "false" {
		return true
	}
	for k, m := range obj {
		if !idle(k, m) {
			return false
		}
	}
	return true
}

// refuseUnsupported returns the error for the first (by name) member of
// body that ebb does not honour and that asks for something, or nil.
func refuseUnsupported(body []byte, members map[string]string) error {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return nil // the decoder reports it
	}
	var set []string
	for name := range members {
		if v, ok := top[name]; ok && !idle(name, v) {
			set = append(set, name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	sort.Strings(set)
	name := set[0]
	return fault.Errorf(hosting.ErrInvalid, "ebb does not support %s (%s %s) yet; remove %s from the request or leave it at its default.", members[name], name, abbreviate(top[name]), name)
}

// abbreviate shows a member's value in an error message, cut short.
func abbreviate(v json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		b.Reset()
		b.Write(v)
	}
	const most = 80
	if b.Len() > most {
		return string(b.Bytes()[:most]) + "..."
	}
	return b.String()
}

// refuseUnsupportedVariants refuses the production variant members ebb does
// not honour, and a RoutingConfig other than what its router does
// (LEAST_OUTSTANDING_REQUESTS).
func refuseUnsupportedVariants(body []byte) error {
	var req struct {
		ProductionVariants []json.RawMessage
	}
	if json.Unmarshal(body, &req) != nil {
		return nil // the decoder reports it
	}
	for _, pv := range req.ProductionVariants {
		if err := refuseUnsupported(pv, unsupportedVariant); err != nil {
			return err
		}
		var v struct {
			VariantName            string
			RoutingConfig          *struct{ RoutingStrategy string }
			ManagedInstanceScaling json.RawMessage
		}
		if json.Unmarshal(pv, &v) == nil && len(v.ManagedInstanceScaling) > 0 {
			if err := refuseUnsupported(v.ManagedInstanceScaling, unsupportedManaged); err != nil {
				return err
			}
		}
		if json.Unmarshal(pv, &v) == nil && v.RoutingConfig != nil && v.RoutingConfig.RoutingStrategy != "LEAST_OUTSTANDING_REQUESTS" {
			return fault.Errorf(hosting.ErrInvalid, "ebb does not support RoutingStrategy %s (variant %s) yet: its router always sends a request to the instance with the fewest outstanding requests; use LEAST_OUTSTANDING_REQUESTS or leave RoutingConfig out.", v.RoutingConfig.RoutingStrategy, v.VariantName)
		}
	}
	return nil
}
