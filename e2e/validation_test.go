package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
)

// post sends one awsJson1_1 SageMaker request as raw HTTP, because the SDK
// refuses to send much of what this test needs the server to refuse.
func post(t *testing.T, url, op, body string) (int, map[string]any, http.Header) {
	t.Helper()
	return postTarget(t, url, "SageMaker."+op, body)
}

func postTarget(t *testing.T, url, target, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Authorization", anyAuth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	json.Unmarshal(b, &doc)
	return resp.StatusCode, doc, resp.Header
}

// anyAuth is an Authorization header of SigV4's shape, which a server
// without --credentials requires (a browser form cannot send one).
const anyAuth = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261201/us-east-1/sagemaker/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"

const arnPrefix = "arn:aws:sagemaker:us-east-1:123456789012:"

func TestValidationErrors(t *testing.T) {
	s := startServer(t, t.TempDir(), "--instance-limit", "4")
	sm := s.SageMaker()
	deploy(t, sm, "vendpoint", model, 1)
	waitInService(t, sm, "vendpoint")

	long := strings.Repeat("a", 64)
	variant := func(extra string) string {
		return `{"EndpointConfigName":"vc2","ProductionVariants":[{"VariantName":"v","ModelName":"vendpoint","InstanceType":"ml.m5.large","InitialInstanceCount":1` + extra + `}]}`
	}
	// serverless is a configuration of one serverless variant of config.
	serverless := func(config, extra string) string {
		return `{"EndpointConfigName":"vc2","ProductionVariants":[{"VariantName":"v","ModelName":"vendpoint","ServerlessConfig":` + config + extra + `}]}`
	}
	one := func(msg string) string { return "1 validation error detected: " + msg }
	tests := []struct {
		name, op, body string
		status         int
		code, message  string // message: exact, or a prefix when it ends in "..."
	}{
		// Shape validation, from the service model.
		{"missing name", "CreateModel", `{"PrimaryContainer":{"Image":"x"}}`, 400, "ValidationException",
			one("Value null at 'modelName' failed to satisfy constraint: Member must not be null")},
		{"name pattern", "CreateModel", `{"ModelName":"bad_name","PrimaryContainer":{"Image":"x"}}`, 400, "ValidationException",
			one("Value 'bad_name' at 'modelName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?")},
		{"name length", "CreateModel", `{"ModelName":"` + long + `","PrimaryContainer":{"Image":"x"}}`, 400, "ValidationException",
			one("Value '" + long + "' at 'modelName' failed to satisfy constraint: Member must have length less than or equal to 63")},
		{"environment key", "CreateModel", `{"ModelName":"m2","PrimaryContainer":{"Image":"x","Environment":{"1BAD":"v"}}}`, 400, "ValidationException",
			one("Value '1BAD' at 'primaryContainer.environment.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z_][a-zA-Z0-9_]*")},
		{"model data url", "CreateModel", `{"ModelName":"m2","PrimaryContainer":{"Image":"x","ModelDataUrl":"ftp://host/model.tar.gz"}}`, 400, "ValidationException", one("Value 'ftp://host/model.tar.gz' at 'primaryContainer.modelDataUrl'...")},
		{"two problems", "CreateEndpoint", `{}`, 400, "ValidationException", "2 validation errors detected: ..."},
		{"count below 1", "CreateEndpointConfig", variant(`,"InitialInstanceCount":0`), 400, "ValidationException",
			one("Value '0' at 'productionVariants.1.member.initialInstanceCount' failed to satisfy constraint: Member must have value greater than or equal to 1")},
		{"instance type", "CreateEndpointConfig", strings.Replace(variant(""), "ml.m5.large", "ml.m5.huge", 1), 400, "ValidationException",
			one("Value 'ml.m5.huge' at 'productionVariants.1.member.instanceType' failed to satisfy constraint: Member must satisfy enum value set: [...")},
		{"no variants", "CreateEndpointConfig", `{"EndpointConfigName":"vc2","ProductionVariants":[]}`, 400, "ValidationException",
			one("Value '[]' at 'productionVariants' failed to satisfy constraint: Member must have length greater than or equal to 1")},
		{"sort by", "ListEndpoints", `{"SortBy":"Size"}`, 400, "ValidationException",
			one("Value 'Size' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [Name, CreationTime, Status]")},
		{"status enum", "ListEndpoints", `{"StatusEquals":"Running"}`, 400, "ValidationException", one("Value 'Running' at 'statusEquals'...")},
		{"max results 0", "ListModels", `{"MaxResults":0}`, 400, "ValidationException",
			one("Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1")},
		{"max results 101", "ListEndpointConfigs", `{"MaxResults":101}`, 400, "ValidationException",
			one("Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100")},
		{"list tags max", "ListTags", `{"ResourceArn":"` + arnPrefix + `endpoint/vendpoint","MaxResults":10}`, 400, "ValidationException",
			one("Value '10' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 50")},
		{"negative count", "UpdateEndpointWeightsAndCapacities", `{"EndpointName":"vendpoint","DesiredWeightsAndCapacities":[{"VariantName":"AllTraffic","DesiredInstanceCount":-1}]}`, 400, "ValidationException",
			one("Value '-1' at 'desiredWeightsAndCapacities.1.member.desiredInstanceCount' failed to satisfy constraint: Member must have value greater than or equal to 0")},
		{"empty changes", "UpdateEndpointWeightsAndCapacities", `{"EndpointName":"vendpoint","DesiredWeightsAndCapacities":[]}`, 400, "ValidationException",
			one("Value '[]' at 'desiredWeightsAndCapacities' failed to satisfy constraint: Member must have length greater than or equal to 1")},
		{"no tag keys", "DeleteTags", `{"ResourceArn":"` + arnPrefix + `endpoint/vendpoint","TagKeys":[]}`, 400, "ValidationException", one("Value '[]' at 'tagKeys'...")},
		{"arn pattern", "AddTags", `{"ResourceArn":"not-an-arn","Tags":[]}`, 400, "ValidationException", one("Value 'not-an-arn' at 'resourceArn'...")},

		// Protocol errors.
		{"wrong type", "DescribeEndpoint", `{"EndpointName":42}`, 400, "SerializationException", "..."},
		{"broken json", "DescribeEndpoint", `{"EndpointName":`, 400, "SerializationException", "..."},
		{"not UTF-8", "CreateModel", "{\"ModelName\":\"m\xff\",\"PrimaryContainer\":{\"Image\":\"x\"}}", 400, "SerializationException", "Unable to parse request body: it is not valid UTF-8"},
		{"unknown operation", "CreateTrainingJob", `{}`, 400, "UnknownOperationException", "..."},

		// Semantic errors, with SageMaker's messages.
		{"missing model", "DescribeModel", `{"ModelName":"nope"}`, 400, "ValidationException", `Could not find model "` + arnPrefix + `model/nope".`},
		{"delete missing model", "DeleteModel", `{"ModelName":"nope"}`, 400, "ValidationException", `Could not find model "` + arnPrefix + `model/nope".`},
		{"no container", "CreateModel", `{"ModelName":"m2"}`, 400, "ValidationException", "Either PrimaryContainer or Containers must be specified, with an Image."},
		{"duplicate model", "CreateModel", `{"ModelName":"VEndpoint","PrimaryContainer":{"Image":"x"}}`, 400, "ValidationException", `Cannot create already existing model "` + arnPrefix + `model/vendpoint".`},
		{"reserved tag", "CreateModel", `{"ModelName":"m2","PrimaryContainer":{"Image":"x"},"Tags":[{"Key":"aws:owner","Value":"me"}]}`, 400, "ValidationException", "Tag keys starting with 'aws:' are reserved..."},
		{"config of missing model", "CreateEndpointConfig", strings.Replace(variant(""), `"ModelName":"vendpoint"`, `"ModelName":"nope"`, 1), 400, "ValidationException", `Could not find model "` + arnPrefix + `model/nope".`},
		{"duplicate variant", "CreateEndpointConfig", `{"EndpointConfigName":"vc2","ProductionVariants":[{"VariantName":"v","ModelName":"vendpoint","InstanceType":"ml.m5.large","InitialInstanceCount":1},{"VariantName":"v","ModelName":"vendpoint","InstanceType":"ml.m5.large","InitialInstanceCount":1}]}`, 400, "ValidationException", `Duplicate VariantName "v" in ProductionVariants.`},
		{"provisioned concurrency 0", "CreateEndpointConfig", serverless(`{"MemorySizeInMB":2048,"MaxConcurrency":5,"ProvisionedConcurrency":0}`, ""), 400, "ValidationException",
			one("Value '0' at 'productionVariants.1.member.serverlessConfig.provisionedConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 1")},
		{"serverless update of instances", "UpdateEndpointWeightsAndCapacities", `{"EndpointName":"vendpoint","DesiredWeightsAndCapacities":[{"VariantName":"AllTraffic","ServerlessUpdateConfig":{"MaxConcurrency":3}}]}`, 400, "ValidationException",
			`The variant "AllTraffic" of endpoint "` + arnPrefix + `endpoint/vendpoint" is not serverless: ServerlessUpdateConfig is for serverless variants; change its DesiredInstanceCount instead.`},
		{"serverless update range", "UpdateEndpointWeightsAndCapacities", `{"EndpointName":"vendpoint","DesiredWeightsAndCapacities":[{"VariantName":"AllTraffic","ServerlessUpdateConfig":{"ProvisionedConcurrency":201}}]}`, 400, "ValidationException",
			one("Value '201' at 'desiredWeightsAndCapacities.1.member.serverlessUpdateConfig.provisionedConcurrency' failed to satisfy constraint: Member must have value less than or equal to 200")},
		{"serverless memory", "CreateEndpointConfig", serverless(`{"MemorySizeInMB":512,"MaxConcurrency":5}`, ""), 400, "ValidationException",
			one("Value '512' at 'productionVariants.1.member.serverlessConfig.memorySizeInMB' failed to satisfy constraint: Member must have value greater than or equal to 1024")},
		{"serverless memory step", "CreateEndpointConfig", serverless(`{"MemorySizeInMB":1500,"MaxConcurrency":5}`, ""), 400, "ValidationException",
			`MemorySizeInMB (1500) of production variant "v" must be one of 1024, 2048, 3072, 4096, 5120 or 6144: serverless memory comes in 1 GB increments.`},
		{"serverless concurrency", "CreateEndpointConfig", serverless(`{"MemorySizeInMB":1024,"MaxConcurrency":201}`, ""), 400, "ValidationException",
			one("Value '201' at 'productionVariants.1.member.serverlessConfig.maxConcurrency' failed to satisfy constraint: Member must have value less than or equal to 200")},
		{"serverless no concurrency", "CreateEndpointConfig", serverless(`{"MemorySizeInMB":1024}`, ""), 400, "ValidationException",
			one("Value null at 'productionVariants.1.member.serverlessConfig.maxConcurrency' failed to satisfy constraint: Member must not be null")},
		{"serverless provisioned", "CreateEndpointConfig", serverless(`{"MemorySizeInMB":1024,"MaxConcurrency":2,"ProvisionedConcurrency":3}`, ""), 400, "ValidationException",
			`ProvisionedConcurrency (3) of production variant "v" must be less than or equal to its MaxConcurrency (2).`},
		{"serverless with instances", "CreateEndpointConfig", serverless(`{"MemorySizeInMB":1024,"MaxConcurrency":2}`, `,"InstanceType":"ml.m5.large"`), 400, "ValidationException",
			`Production variant "v" is serverless (ServerlessConfig): it takes no InstanceType or InitialInstanceCount.`},
		{"serverless and another", "CreateEndpointConfig", `{"EndpointConfigName":"vc2","ProductionVariants":[{"VariantName":"v","ModelName":"vendpoint","ServerlessConfig":{"MemorySizeInMB":1024,"MaxConcurrency":2}},{"VariantName":"w","ModelName":"vendpoint","InstanceType":"ml.m5.large","InitialInstanceCount":1}]}`, 400, "ValidationException",
			`An endpoint configuration with a serverless variant ("v") has that one production variant only: serverless endpoints do not support multiple production variants.`},
		{"serverless async", "CreateEndpointConfig", strings.Replace(serverless(`{"MemorySizeInMB":1024,"MaxConcurrency":2}`, ""), `"EndpointConfigName":"vc2"`, `"EndpointConfigName":"vc2","AsyncInferenceConfig":{"OutputConfig":{"S3OutputPath":"s3://b/o"}}`, 1), 400, "ValidationException",
			`Production variant "v" is serverless: AsyncInferenceConfig needs instances to queue requests for; give InstanceType and InitialInstanceCount.`},
		{"serverless components", "CreateEndpointConfig", strings.Replace(serverless(`{"MemorySizeInMB":1024,"MaxConcurrency":2}`, ""), `"ModelName":"vendpoint",`, "", 1), 400, "ValidationException",
			`Production variant "v" names no model, so it would host inference components, which need instances: give it InstanceType and InitialInstanceCount, not ServerlessConfig.`},
		{"duplicate config", "CreateEndpointConfig", strings.Replace(variant(""), "vc2", "vendpoint", 1), 400, "ValidationException", `Cannot create already existing endpoint configuration "` + arnPrefix + `endpoint-config/vendpoint".`},
		{"missing config", "DescribeEndpointConfig", `{"EndpointConfigName":"nope"}`, 400, "ValidationException", `Could not find endpoint configuration "` + arnPrefix + `endpoint-config/nope".`},
		{"delete missing config", "DeleteEndpointConfig", `{"EndpointConfigName":"nope"}`, 400, "ValidationException", `Could not find endpoint configuration "` + arnPrefix + `endpoint-config/nope".`},
		{"endpoint of missing config", "CreateEndpoint", `{"EndpointName":"e2","EndpointConfigName":"nope"}`, 400, "ValidationException", `Could not find endpoint configuration "` + arnPrefix + `endpoint-config/nope".`},
		{"duplicate endpoint", "CreateEndpoint", `{"EndpointName":"VENDPOINT","EndpointConfigName":"vendpoint"}`, 400, "ValidationException", `Cannot create already existing endpoint "` + arnPrefix + `endpoint/vendpoint".`},
		{"missing endpoint", "DescribeEndpoint", `{"EndpointName":"nope"}`, 400, "ValidationException", `Could not find endpoint "` + arnPrefix + `endpoint/nope".`},
		{"delete missing endpoint", "DeleteEndpoint", `{"EndpointName":"nope"}`, 400, "ValidationException", `Could not find endpoint "` + arnPrefix + `endpoint/nope".`},
		{"update missing endpoint", "UpdateEndpoint", `{"EndpointName":"nope","EndpointConfigName":"vendpoint"}`, 400, "ValidationException", `Could not find endpoint "` + arnPrefix + `endpoint/nope".`},
		{"update to missing config", "UpdateEndpoint", `{"EndpointName":"vendpoint","EndpointConfigName":"nope"}`, 400, "ValidationException", `Could not find endpoint configuration "` + arnPrefix + `endpoint-config/nope".`},
		{"exclude without retain", "UpdateEndpoint", `{"EndpointName":"vendpoint","EndpointConfigName":"vendpoint","ExcludeRetainedVariantProperties":[{"VariantPropertyType":"DesiredWeight"}]}`, 400, "ValidationException", "ExcludeRetainedVariantProperties may be given only with RetainAllVariantProperties set to true."},
		{"unknown variant", "UpdateEndpointWeightsAndCapacities", `{"EndpointName":"vendpoint","DesiredWeightsAndCapacities":[{"VariantName":"nope","DesiredInstanceCount":2}]}`, 400, "ValidationException", `The variant "nope" does not exist in endpoint "` + arnPrefix + `endpoint/vendpoint".`},
		{"nothing to change", "UpdateEndpointWeightsAndCapacities", `{"EndpointName":"vendpoint","DesiredWeightsAndCapacities":[{"VariantName":"AllTraffic"}]}`, 400, "ValidationException", `Either DesiredWeight, DesiredInstanceCount or ServerlessUpdateConfig must be specified for variant "AllTraffic".`},
		{"capacity over quota", "UpdateEndpointWeightsAndCapacities", `{"EndpointName":"vendpoint","DesiredWeightsAndCapacities":[{"VariantName":"AllTraffic","DesiredInstanceCount":5}]}`, 400, "ResourceLimitExceeded",
			"The account-level service limit 'ml.m5.large for endpoint usage' is 4 Instances, with current utilization of 1 Instances and a request delta of 4 Instances. ..."},
		{"bad next token", "ListEndpoints", `{"NextToken":"garbage!"}`, 400, "ValidationException", `Invalid pagination token "garbage!".`},
		{"tags of missing resource", "ListTags", `{"ResourceArn":"` + arnPrefix + `endpoint/nope"}`, 400, "ValidationException", `Resource "` + arnPrefix + `endpoint/nope" does not exist.`},
		{"too many tags", "AddTags", `{"ResourceArn":"` + arnPrefix + `endpoint/vendpoint","Tags":[` + tags(51) + `]}`, 400, "ValidationException",
			one("Value '[...")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, doc, header := post(t, s.URL, tt.op, tt.body)
			code, _ := doc["__type"].(string)
			msg, _ := doc["message"].(string)
			if status != tt.status || code != tt.code || header.Get("X-Amzn-ErrorType") != tt.code {
				t.Fatalf("got %d %s (header %s): %s\nwant %d %s", status, code, header.Get("X-Amzn-ErrorType"), msg, tt.status, tt.code)
			}
			if prefix, ok := strings.CutSuffix(tt.message, "..."); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Fatalf("message %q\nwant prefix %q", msg, prefix)
				}
			} else if msg != tt.message {
				t.Fatalf("message %q\nwant       %q", msg, tt.message)
			}
		})
	}

	// Bad input changed nothing.
	ctx := context.Background()
	models, _ := sm.ListModels(ctx, &sagemaker.ListModelsInput{})
	configs, _ := sm.ListEndpointConfigs(ctx, &sagemaker.ListEndpointConfigsInput{})
	eps, _ := sm.ListEndpoints(ctx, &sagemaker.ListEndpointsInput{})
	if len(models.Models) != 1 || len(configs.EndpointConfigs) != 1 || len(eps.Endpoints) != 1 {
		t.Fatalf("after bad requests: %d models, %d configs, %d endpoints; want 1 each", len(models.Models), len(configs.EndpointConfigs), len(eps.Endpoints))
	}
	ep, _ := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("vendpoint")})
	if ep.EndpointStatus != "InService" || *variantOf(ep).DesiredInstanceCount != 1 {
		t.Fatalf("endpoint changed: %s, desired %d", ep.EndpointStatus, *variantOf(ep).DesiredInstanceCount)
	}
	// The SDK sees the same errors.
	_, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("nope")})
	expectAPIError(t, err, "ValidationException", `Could not find endpoint "`+arnPrefix+`endpoint/nope".`)
}

func tags(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"Key":"k%d","Value":"v"}`, i)
	}
	return strings.Join(parts, ",")
}
