package sagemaker

import (
	"strings"
	"testing"
)

func TestIdleValuesAskForNothing(t *testing.T) {
	for _, c := range []struct {
		member, value string
		idle          bool
	}{
		{"EnableSSMAccess", "false", true},
		{"EnableSSMAccess", "true", false},
		{"AcceleratorType", `""`, true},
		{"AcceleratorType", `"ml.eia1.medium"`, false},
		{"ShadowProductionVariants", "[]", true},
		{"ShadowProductionVariants", `[{"VariantName":"shadow"}]`, false},
		{"InstancePools", " [ ] ", true},
		{"CoreDumpConfig", "{}", true},
		{"CoreDumpConfig", `{"DestinationS3Uri":""}`, true},
		{"CoreDumpConfig", `{"DestinationS3Uri":"s3://b/dumps"}`, false},
		{"DeploymentConfig", `{"AutoRollbackConfiguration":{"Alarms":[]}}`, true},
		{"DeploymentConfig", `{"BlueGreenUpdatePolicy":{"TrafficRoutingConfiguration":{"Type":"ALL_AT_ONCE","WaitIntervalInSeconds":0}}}`, false},
		{"DataCaptureConfig", `{"EnableCapture":false,"InitialSamplingPercentage":50,"DestinationS3Uri":"s3://b/c"}`, true},
		{"DataCaptureConfig", `{"InitialSamplingPercentage":50,"DestinationS3Uri":"s3://b/c"}`, false},
		{"DataCaptureConfig", `{"EnableCapture":true}`, false},
		{"VolumeSizeInGB", "0", false}, // out of range, not a default: the model's validation refuses it
		{"VolumeSizeInGB", "30", false},
	} {
		if got := idle(c.member, []byte(c.value)); got != c.idle {
			t.Errorf("idle(%s %s) = %v, want %v", c.member, c.value, got, c.idle)
		}
	}
}

func TestRefusalNamesMemberAndValue(t *testing.T) {
	err := refuseUnsupported([]byte(`{"EnableSSMAccess":true,"VolumeSizeInGB":30}`), unsupportedVariant)
	if err == nil || !strings.Contains(err.Error(), "(EnableSSMAccess true)") {
		t.Fatalf("refusal = %v, want EnableSSMAccess named with its value", err)
	}
	if err := refuseUnsupported([]byte(`{"EnableSSMAccess":false,"AcceleratorType":"","InstancePools":[]}`), unsupportedVariant); err != nil {
		t.Fatalf("idle members refused: %v", err)
	}
	long := `{"ShadowProductionVariants":[{"VariantName":"` + strings.Repeat("v", 200) + `"}]}`
	if err := refuseUnsupported([]byte(long), unsupportedConfig); err == nil || len(err.Error()) > 300 {
		t.Fatalf("refusal of a long value = %v, want it cut short", err)
	}
}
