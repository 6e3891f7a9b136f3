// Package sagemaker serves the SageMaker control-plane operations ebb
// implements (awsJson1_1, X-Amz-Target: SageMaker.<Op>) on top of hosting.
// Requests are validated against the official model before any operation
// runs, so bad input changes nothing.
package sagemaker

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/awsmodel"
	"github.com/ebbscale/ebb/internal/fault"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/modelmetrics"
	"github.com/ebbscale/ebb/internal/store"
)

// ContentType is the awsJson1_1 media type.
const ContentType = "application/x-amz-json-1.1"

// TargetPrefix starts the X-Amz-Target of every SageMaker operation.
const TargetPrefix = "SageMaker."

// Handler serves SageMaker operations.
type Handler struct {
	awsjson.Service
	h *hosting.Service
	// autoscaled names the variants of an endpoint that are scalable
	// targets of Application Auto Scaling (nil: none).
	autoscaled func(endpoint string) []string
	// RefuseConfig names more members of CreateEndpointConfig this server
	// refuses (with the reason), beyond what ebb never implements.
	RefuseConfig map[string]string
}

// errorTable is SageMaker's error table. SageMaker reports missing and
// conflicting resources as ValidationException (its model has no
// ResourceNotFound for these operations).
var errorTable = awserr.Table{
	Rules: append([]awserr.Rule{
		{Kind: hosting.ErrLimit, Code: "ResourceLimitExceeded", Status: http.StatusBadRequest},
		{Kind: hosting.ErrNotFound, Code: "ValidationException", Status: http.StatusBadRequest},
		{Kind: hosting.ErrExists, Code: "ValidationException", Status: http.StatusBadRequest},
		{Kind: hosting.ErrInProgress, Code: "ValidationException", Status: http.StatusBadRequest},
		{Kind: hosting.ErrInvalid, Code: "ValidationException", Status: http.StatusBadRequest},
	}, awserr.ModelRules...),
	InternalCode: "InternalFailure",
}

// New returns the SageMaker handler. autoscaled (may be nil) names the
// variants of an endpoint that are scalable targets: UpdateEndpoint may not
// remove them or change their instance type, as in SageMaker. The rule
// needs both services, so it lives here rather than in either.
func New(h *hosting.Service, autoscaled func(endpoint string) []string) *Handler {
	x := &Handler{h: h, autoscaled: autoscaled}
	x.Service = awsjson.Service{ContentType: ContentType, TargetPrefix: TargetPrefix, Model: awsmodel.SageMaker, Errors: errorTable,
		Ops: map[string]awsjson.Op{
			"CreateModel":                           x.createModel,
			"DescribeModel":                         x.describeModel,
			"ListModels":                            x.listModels,
			"DeleteModel":                           x.deleteModel,
			"CreateEndpointConfig":                  x.createEndpointConfig,
			"DescribeEndpointConfig":                x.describeEndpointConfig,
			"ListEndpointConfigs":                   x.listEndpointConfigs,
			"DeleteEndpointConfig":                  x.deleteEndpointConfig,
			"CreateEndpoint":                        x.createEndpoint,
			"DescribeEndpoint":                      x.describeEndpoint,
			"ListEndpoints":                         x.listEndpoints,
			"UpdateEndpoint":                        x.updateEndpoint,
			"UpdateEndpointWeightsAndCapacities":    x.updateWeightsAndCapacities,
			"DeleteEndpoint":                        x.deleteEndpoint,
			"AddTags":                               x.addTags,
			"ListTags":                              x.listTags,
			"DeleteTags":                            x.deleteTags,
			"CreateInferenceComponent":              x.createComponent,
			"DescribeInferenceComponent":            x.describeComponent,
			"ListInferenceComponents":               x.listComponents,
			"UpdateInferenceComponent":              x.updateComponent,
			"UpdateInferenceComponentRuntimeConfig": x.updateComponentRuntimeConfig,
			"DeleteInferenceComponent":              x.deleteComponent,
		}}
	return x
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return awserr.Serialization(err.Error())
	}
	return nil
}

// merge adds fields to a stored request document (Describe* echo what was
// created, plus the ARN and creation time).
func merge(doc json.RawMessage, fields map[string]any) (map[string]any, error) {
	out := map[string]any{}
	if err := json.Unmarshal(doc, &out); err != nil {
		return nil, err
	}
	for k, v := range fields {
		out[k] = v
	}
	return out, nil
}

type nameInput struct {
	ModelName          string
	EndpointConfigName string
	EndpointName       string
}

func (x *Handler) createModel(ctx context.Context, body []byte) (any, error) {
	var in hosting.CreateModelInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	in.Echo = withoutTags(body)
	containers := in.Containers
	if c := in.PrimaryContainer; c != nil {
		containers = append(containers, *c)
	}
	for _, c := range containers {
		if err := checkMetricsEnvironment(c.Environment); err != nil {
			return nil, err
		}
	}
	arn, err := x.h.CreateModel(ctx, in)
	return map[string]string{"ModelArn": arn}, err
}

// checkMetricsEnvironment refuses a container Environment that asks ebb
// to read the model server's metrics wrongly (modelmetrics), naming the
// key.
func checkMetricsEnvironment(env map[string]string) error {
	if _, _, err := modelmetrics.FromEnvironment(env); err != nil {
		return fault.Errorf(hosting.ErrInvalid, "Environment %v.", err)
	}
	return nil
}

// withoutTags is a create request as its Describe answers it: Tags are
// ListTags'.
func withoutTags(body []byte) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	delete(m, "Tags")
	b, _ := json.Marshal(m)
	return b
}

func (x *Handler) describeModel(ctx context.Context, body []byte) (any, error) {
	var in nameInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, err := x.h.DescribeModel(ctx, in.ModelName)
	if err != nil {
		return nil, err
	}
	return merge(m.Request, map[string]any{"ModelArn": m.ARN, "CreationTime": awsjson.T(m.CreationTime)})
}

func (x *Handler) deleteModel(ctx context.Context, body []byte) (any, error) {
	var in nameInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, x.h.DeleteModel(ctx, in.ModelName)
}

// listInput is the common input of the List* operations.
type listInput struct {
	NameContains           string
	CreationTimeBefore     *awsjson.Time
	CreationTimeAfter      *awsjson.Time
	LastModifiedTimeBefore *awsjson.Time
	LastModifiedTimeAfter  *awsjson.Time
	StatusEquals           string
	SortBy                 string
	SortOrder              string
	MaxResults             int
	NextToken              string
}

func (in listInput) query() hosting.ListQuery {
	return hosting.ListQuery{
		NameContains:           in.NameContains,
		CreationTimeBefore:     in.CreationTimeBefore.Ptr(),
		CreationTimeAfter:      in.CreationTimeAfter.Ptr(),
		LastModifiedTimeBefore: in.LastModifiedTimeBefore.Ptr(),
		LastModifiedTimeAfter:  in.LastModifiedTimeAfter.Ptr(),
		StatusEquals:           in.StatusEquals,
		SortBy:                 in.SortBy,
		SortOrder:              in.SortOrder,
		MaxResults:             in.MaxResults,
		NextToken:              in.NextToken,
	}
}

type modelSummary struct {
	ModelName    string
	ModelArn     string
	CreationTime *awsjson.Time
}

func (x *Handler) listModels(ctx context.Context, body []byte) (any, error) {
	var in listInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	models, next, err := x.h.ListModels(ctx, in.query())
	if err != nil {
		return nil, err
	}
	out := struct {
		Models    []modelSummary
		NextToken string `json:",omitempty"`
	}{Models: []modelSummary{}, NextToken: next}
	for _, m := range models {
		out.Models = append(out.Models, modelSummary{m.Name, m.ARN, awsjson.T(m.CreationTime)})
	}
	return out, nil
}

func (x *Handler) createEndpointConfig(ctx context.Context, body []byte) (any, error) {
	if err := refuseUnsupported(body, unsupportedConfig); err != nil {
		return nil, err
	}
	if err := refuseUnsupportedVariants(body); err != nil {
		return nil, err
	}
	if err := refuseUnsupported(body, x.RefuseConfig); err != nil {
		return nil, err
	}
	var in hosting.CreateEndpointConfigInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	in.Echo = withoutTags(body)
	arn, err := x.h.CreateEndpointConfig(ctx, in)
	return map[string]string{"EndpointConfigArn": arn}, err
}

func (x *Handler) describeEndpointConfig(ctx context.Context, body []byte) (any, error) {
	var in nameInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c, err := x.h.DescribeEndpointConfig(ctx, in.EndpointConfigName)
	if err != nil {
		return nil, err
	}
	out, err := merge(c.Request, map[string]any{"EndpointConfigArn": c.ARN, "CreationTime": awsjson.T(c.CreationTime)})
	if err != nil {
		return nil, err
	}
	// SageMaker reports the weight a variant got, 1.0 when none was given.
	if vs, ok := out["ProductionVariants"].([]any); ok {
		for _, v := range vs {
			if pv, ok := v.(map[string]any); ok && pv["InitialVariantWeight"] == nil {
				pv["InitialVariantWeight"] = 1.0
			}
		}
	}
	return out, nil
}

func (x *Handler) deleteEndpointConfig(ctx context.Context, body []byte) (any, error) {
	var in nameInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, x.h.DeleteEndpointConfig(ctx, in.EndpointConfigName)
}

type endpointConfigSummary struct {
	EndpointConfigName string
	EndpointConfigArn  string
	CreationTime       *awsjson.Time
}

func (x *Handler) listEndpointConfigs(ctx context.Context, body []byte) (any, error) {
	var in listInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	configs, next, err := x.h.ListEndpointConfigs(ctx, in.query())
	if err != nil {
		return nil, err
	}
	out := struct {
		EndpointConfigs []endpointConfigSummary
		NextToken       string `json:",omitempty"`
	}{EndpointConfigs: []endpointConfigSummary{}, NextToken: next}
	for _, c := range configs {
		out.EndpointConfigs = append(out.EndpointConfigs, endpointConfigSummary{c.Name, c.ARN, awsjson.T(c.CreationTime)})
	}
	return out, nil
}

func (x *Handler) createEndpoint(ctx context.Context, body []byte) (any, error) {
	var in hosting.CreateEndpointInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := x.h.CreateEndpoint(ctx, in)
	return map[string]string{"EndpointArn": arn}, err
}

// Wire shapes of DescribeEndpoint.
type (
	deployedImage struct {
		SpecifiedImage string        `json:",omitempty"`
		ResolvedImage  string        `json:",omitempty"`
		ResolutionTime *awsjson.Time `json:",omitempty"`
	}
	variantStatus struct {
		Status        string
		StatusMessage string        `json:",omitempty"`
		StartTime     *awsjson.Time `json:",omitempty"`
	}
	variantSummary struct {
		VariantName             string
		InstanceType            string          `json:",omitempty"` // pending variants only
		DeployedImages          []deployedImage `json:",omitempty"` // none on hosts of inference components
		CurrentWeight           *float64        `json:",omitempty"`
		DesiredWeight           float64
		CurrentInstanceCount    *int                      `json:",omitempty"`
		DesiredInstanceCount    *int                      `json:",omitempty"` // none for a serverless variant
		VariantStatus           []variantStatus           `json:",omitempty"`
		RoutingConfig           json.RawMessage           `json:",omitempty"`
		ManagedInstanceScaling  *hosting.ManagedScaling   `json:",omitempty"`
		CurrentServerlessConfig *hosting.ServerlessConfig `json:",omitempty"`
		DesiredServerlessConfig *hosting.ServerlessConfig `json:",omitempty"`
	}
	pendingSummary struct {
		EndpointConfigName string
		ProductionVariants []variantSummary
		StartTime          *awsjson.Time `json:",omitempty"`
	}
	describeEndpointOutput struct {
		EndpointName             string
		EndpointArn              string
		EndpointConfigName       string
		ProductionVariants       []variantSummary `json:",omitempty"`
		EndpointStatus           string
		FailureReason            string `json:",omitempty"`
		CreationTime             *awsjson.Time
		LastModifiedTime         *awsjson.Time
		AsyncInferenceConfig     json.RawMessage           `json:",omitempty"`
		PendingDeploymentSummary *pendingSummary           `json:",omitempty"`
		LastDeploymentConfig     *hosting.DeploymentConfig `json:",omitempty"`
	}
)

// deployed is a variant's DeployedImages, one per container; a variant
// that hosts inference components runs no image of its own. ebb runs an
// image as named, so its resolved image is the one specified.
func deployed(v hosting.VariantView) []deployedImage {
	var out []deployedImage
	for _, image := range v.Images {
		out = append(out, deployedImage{image, image, awsjson.T(v.ResolvedAt)})
	}
	return out
}

func summaries(vs []hosting.VariantView, pending bool) []variantSummary {
	out := make([]variantSummary, 0, len(vs))
	for _, v := range vs {
		s := variantSummary{
			VariantName:            v.Name,
			DeployedImages:         deployed(v),
			DesiredWeight:          v.DesiredWeight,
			RoutingConfig:          v.RoutingConfig,
			ManagedInstanceScaling: v.Managed,
		}
		// A variant's current figures exist once it has served; SageMaker
		// omits them while the endpoint is first being created. A
		// serverless variant has a configuration where others count
		// instances (its environments come and go with its invocations).
		cw, cc, dc := v.CurrentWeight, v.CurrentCount, v.DesiredCount
		s.CurrentWeight = &cw
		if v.Serverless != nil {
			s.CurrentServerlessConfig, s.DesiredServerlessConfig = v.CurrentServerless, v.Serverless
		} else {
			s.CurrentInstanceCount, s.DesiredInstanceCount = &cc, &dc
		}
		if pending {
			s.InstanceType = v.InstanceType
		}
		for _, st := range v.Status {
			s.VariantStatus = append(s.VariantStatus, variantStatus{st.Status, st.Message, awsjson.T(st.StartTime)})
		}
		out = append(out, s)
	}
	return out
}

func (x *Handler) describeEndpoint(ctx context.Context, body []byte) (any, error) {
	var in nameInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	v, err := x.h.DescribeEndpoint(ctx, in.EndpointName)
	if err != nil {
		return nil, err
	}
	out := describeEndpointOutput{
		EndpointName: v.Name, EndpointArn: v.ARN, EndpointConfigName: v.ConfigName,
		ProductionVariants: summaries(v.Variants, false),
		EndpointStatus:     v.Status, FailureReason: v.FailureReason,
		CreationTime: awsjson.T(v.CreationTime), LastModifiedTime: awsjson.T(v.LastModifiedTime),
		AsyncInferenceConfig: v.AsyncConfig, LastDeploymentConfig: v.Deployment,
	}
	if v.Pending != nil {
		out.PendingDeploymentSummary = &pendingSummary{v.Pending.ConfigName, summaries(v.Pending.Variants, true), awsjson.T(v.Pending.StartTime)}
	}
	return out, nil
}

type endpointSummary struct {
	EndpointName     string
	EndpointArn      string
	CreationTime     *awsjson.Time
	LastModifiedTime *awsjson.Time
	EndpointStatus   string
}

func (x *Handler) listEndpoints(ctx context.Context, body []byte) (any, error) {
	var in listInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	eps, next, err := x.h.ListEndpoints(ctx, in.query())
	if err != nil {
		return nil, err
	}
	out := struct {
		Endpoints []endpointSummary
		NextToken string `json:",omitempty"`
	}{Endpoints: []endpointSummary{}, NextToken: next}
	for _, e := range eps {
		out.Endpoints = append(out.Endpoints, endpointSummary{e.Name, e.ARN, awsjson.T(e.CreationTime), awsjson.T(e.LastModifiedTime), e.Status})
	}
	return out, nil
}

func (x *Handler) updateEndpoint(ctx context.Context, body []byte) (any, error) {
	var in struct {
		EndpointName                     string
		EndpointConfigName               string
		RetainAllVariantProperties       bool
		ExcludeRetainedVariantProperties []struct{ VariantPropertyType string }
		DeploymentConfig                 *hosting.DeploymentConfig
		RetainDeploymentConfig           bool
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var exclude []string
	for _, p := range in.ExcludeRetainedVariantProperties {
		exclude = append(exclude, p.VariantPropertyType)
	}
	if err := x.keepsAutoscaledVariants(ctx, in.EndpointName, in.EndpointConfigName); err != nil {
		return nil, err
	}
	arn, err := x.h.UpdateEndpoint(ctx, hosting.UpdateEndpointInput{EndpointName: in.EndpointName, ConfigName: in.EndpointConfigName,
		RetainAll: in.RetainAllVariantProperties, Exclude: exclude, Deployment: in.DeploymentConfig, RetainDeployment: in.RetainDeploymentConfig})
	return map[string]string{"EndpointArn": arn}, err
}

// keepsAutoscaledVariants refuses an UpdateEndpoint whose configuration
// removes a variant that is a scalable target or changes its instance type.
// A missing endpoint or configuration is left to UpdateEndpoint to report.
func (x *Handler) keepsAutoscaledVariants(ctx context.Context, endpoint, configName string) error {
	if x.autoscaled == nil {
		return nil
	}
	current, err := x.h.DescribeEndpoint(ctx, endpoint)
	if err != nil {
		return nil
	}
	cfg, err := x.h.DescribeEndpointConfig(ctx, configName)
	if err != nil {
		return nil
	}
	var next struct{ ProductionVariants []hosting.ProductionVariant }
	if err := json.Unmarshal(cfg.Request, &next); err != nil {
		return nil
	}
	for _, name := range x.autoscaled(current.Name) {
		var before, after string
		for _, v := range current.Variants {
			if v.Name == name {
				before = v.InstanceType
			}
		}
		for _, v := range next.ProductionVariants {
			if v.VariantName == name {
				after = v.InstanceType
			}
		}
		if after != before {
			return fault.Errorf(hosting.ErrInvalid, "Cannot update endpoint %q: production variant %q is a scalable target of Application Auto Scaling, and the new endpoint configuration removes it or changes its instance type. Deregister the scalable target first.", current.ARN, name)
		}
	}
	return nil
}

func (x *Handler) updateWeightsAndCapacities(ctx context.Context, body []byte) (any, error) {
	var in struct {
		EndpointName                string
		DesiredWeightsAndCapacities []struct {
			VariantName            string
			DesiredWeight          *float64
			DesiredInstanceCount   *int
			ServerlessUpdateConfig *hosting.ServerlessUpdate
		}
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	changes := make([]hosting.WeightAndCapacity, len(in.DesiredWeightsAndCapacities))
	for i, c := range in.DesiredWeightsAndCapacities {
		changes[i] = hosting.WeightAndCapacity{VariantName: c.VariantName, DesiredWeight: c.DesiredWeight, DesiredInstanceCount: c.DesiredInstanceCount,
			ServerlessUpdateConfig: c.ServerlessUpdateConfig}
	}
	arn, err := x.h.UpdateEndpointWeightsAndCapacities(ctx, in.EndpointName, changes)
	return map[string]string{"EndpointArn": arn}, err
}

func (x *Handler) deleteEndpoint(ctx context.Context, body []byte) (any, error) {
	var in nameInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, x.h.DeleteEndpoint(ctx, in.EndpointName)
}

func (x *Handler) addTags(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceArn string
		Tags        []store.Tag
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Tags == nil {
		in.Tags = []store.Tag{}
	}
	return map[string]any{"Tags": in.Tags}, x.h.AddTags(ctx, in.ResourceArn, in.Tags)
}

func (x *Handler) listTags(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceArn string
		MaxResults  int
		NextToken   string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	tags, next, err := x.h.ListTags(ctx, in.ResourceArn, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := struct {
		Tags      []store.Tag
		NextToken string `json:",omitempty"`
	}{Tags: tags, NextToken: next}
	if out.Tags == nil {
		out.Tags = []store.Tag{}
	}
	return out, nil
}

func (x *Handler) deleteTags(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceArn string
		TagKeys     []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, x.h.DeleteTags(ctx, in.ResourceArn, in.TagKeys)
}
