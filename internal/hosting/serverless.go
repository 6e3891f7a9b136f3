package hosting

import (
	"context"
	"encoding/json"
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
