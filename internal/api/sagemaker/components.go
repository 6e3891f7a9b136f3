package sagemaker

import (
	"context"
	"encoding/json"

	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/fault"
	"github.com/ebbscale/ebb/internal/hosting"
)

// Members of inference-component requests that ebb does not implement yet.
var (
	unsupportedComponent = map[string]string{
		"Specifications": "inference components with several specifications (one per instance type)",
	}
	unsupportedSpecification = map[string]string{
		"BaseInferenceComponentName": "adapter inference components",
		"DataCacheConfig":            "data caching of inference components",
		"SchedulingConfig":           "scheduling configurations of inference components",
		"StartupParameters":          "per-component startup timeouts (the runtime's --instance-start-limit bounds the whole start)",
		"InstanceType":               "an instance type per specification (copies run on the variant's instance type)",
	}
)

// refuseComponent refuses the members of a create or update request that
// ebb does not honour, the Specification's included.
func refuseComponent(body []byte, top map[string]string) error {
	if err := refuseUnsupported(body, top); err != nil {
		return err
	}
	var req struct{ Specification json.RawMessage }
	if json.Unmarshal(body, &req) != nil || len(req.Specification) == 0 {
		return nil
	}
	if err := refuseUnsupported(req.Specification, unsupportedSpecification); err != nil {
		return err
	}
	var spec struct {
		Container *struct {
			ContainerMetricsConfig json.RawMessage
			Environment            map[string]string
		}
	}
	if json.Unmarshal(req.Specification, &spec) == nil && spec.Container != nil {
		if !idle("ContainerMetricsConfig", spec.Container.ContainerMetricsConfig) {
			return fault.Errorf(hosting.ErrInvalid, "ebb does not support container metrics configurations (ContainerMetricsConfig %s) yet; remove ContainerMetricsConfig from the request or leave it at its default.", abbreviate(spec.Container.ContainerMetricsConfig))
		}
		return checkMetricsEnvironment(spec.Container.Environment)
	}
	return nil
}

func (x *Handler) createComponent(ctx context.Context, body []byte) (any, error) {
	if err := refuseComponent(body, unsupportedComponent); err != nil {
		return nil, err
	}
	var in hosting.ComponentInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := x.h.CreateInferenceComponent(ctx, in)
	return map[string]string{"InferenceComponentArn": arn}, err
}

func (x *Handler) updateComponent(ctx context.Context, body []byte) (any, error) {
	if err := refuseComponent(body, unsupportedComponent); err != nil {
		return nil, err
	}
	var in hosting.ComponentInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := x.h.UpdateInferenceComponent(ctx, in)
	return map[string]string{"InferenceComponentArn": arn}, err
}

func (x *Handler) updateComponentRuntimeConfig(ctx context.Context, body []byte) (any, error) {
	var in struct {
		InferenceComponentName string
		DesiredRuntimeConfig   struct{ CopyCount int }
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := x.h.UpdateInferenceComponentRuntimeConfig(ctx, in.InferenceComponentName, in.DesiredRuntimeConfig.CopyCount)
	return map[string]string{"InferenceComponentArn": arn}, err
}

type componentName struct{ InferenceComponentName string }

func (x *Handler) deleteComponent(ctx context.Context, body []byte) (any, error) {
	var in componentName
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, x.h.DeleteInferenceComponent(ctx, in.InferenceComponentName)
}

// Wire shapes of DescribeInferenceComponent.
type (
	componentContainer struct {
		DeployedImage deployedImage
		ArtifactUrl   string            `json:",omitempty"`
		Environment   map[string]string `json:",omitempty"`
	}
	componentSpec struct {
		ModelName                   string              `json:",omitempty"`
		Container                   *componentContainer `json:",omitempty"`
		ComputeResourceRequirements hosting.Requirements
	}
	componentRuntime        struct{ DesiredCopyCount, CurrentCopyCount int }
	describeComponentOutput struct {
		InferenceComponentName   string
		InferenceComponentArn    string
		EndpointName             string
		EndpointArn              string
		VariantName              string
		FailureReason            string `json:",omitempty"`
		Specification            componentSpec
		RuntimeConfig            componentRuntime
		CreationTime             *awsjson.Time
		LastModifiedTime         *awsjson.Time
		InferenceComponentStatus string
		LastDeploymentConfig     *hosting.ComponentDeploymentConfig `json:",omitempty"`
	}
)

func (x *Handler) describeComponent(ctx context.Context, body []byte) (any, error) {
	var in componentName
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	v, err := x.h.DescribeInferenceComponent(ctx, in.InferenceComponentName)
	if err != nil {
		return nil, err
	}
	out := describeComponentOutput{
		InferenceComponentName: v.Name, InferenceComponentArn: v.ARN, EndpointName: v.Endpoint, EndpointArn: v.EndpointARN,
		VariantName: v.Variant, FailureReason: v.FailureReason,
		Specification: componentSpec{ModelName: v.ModelName, ComputeResourceRequirements: v.Needs},
		RuntimeConfig: componentRuntime{DesiredCopyCount: v.DesiredCopies, CurrentCopyCount: v.CurrentCopies},
		CreationTime:  awsjson.T(v.CreationTime), LastModifiedTime: awsjson.T(v.LastModifiedTime),
		InferenceComponentStatus: v.Status, LastDeploymentConfig: v.LastDeploymentConfig,
	}
	if v.ModelName == "" {
		out.Specification.Container = &componentContainer{
			DeployedImage: deployedImage{v.Container.Image, v.Container.Image, awsjson.T(v.ResolvedAt)},
			ArtifactUrl:   v.Container.ModelDataUrl, Environment: v.Container.Environment,
		}
	}
	return out, nil
}

type componentSummary struct {
	InferenceComponentName   string
	InferenceComponentArn    string
	EndpointName             string
	EndpointArn              string
	VariantName              string
	InferenceComponentStatus string
	CreationTime             *awsjson.Time
	LastModifiedTime         *awsjson.Time
}

func (x *Handler) listComponents(ctx context.Context, body []byte) (any, error) {
	var in struct {
		listInput
		EndpointNameEquals string
		VariantNameEquals  string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	views, next, err := x.h.ListInferenceComponents(ctx, hosting.ComponentQuery{ListQuery: in.query(), EndpointNameEquals: in.EndpointNameEquals, VariantNameEquals: in.VariantNameEquals})
	if err != nil {
		return nil, err
	}
	out := struct {
		InferenceComponents []componentSummary
		NextToken           string `json:",omitempty"`
	}{InferenceComponents: []componentSummary{}, NextToken: next}
	for _, v := range views {
		out.InferenceComponents = append(out.InferenceComponents, componentSummary{v.Name, v.ARN, v.Endpoint, v.EndpointARN, v.Variant, v.Status,
			awsjson.T(v.CreationTime), awsjson.T(v.LastModifiedTime)})
	}
	return out, nil
}
