package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// TestModelsConfigsTagsAndLists drives the object operations, paging,
// filters and sorting through the SDK, including its paginators.
func TestModelsConfigsTagsAndLists(t *testing.T) {
	// A local ModelDataUrl must be under a --model-data-root.
	modelDir := t.TempDir()
	openToInstances(t, modelDir)
	s := startServer(t, t.TempDir(), "--model-data-root", modelDir)
	sm := s.SageMaker()
	ctx := context.Background()
	start := time.Now().Add(-time.Second)
	for _, name := range []string{"beta", "alpha", "gamma-model"} {
		_, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{
			ModelName: aws.String(name),
			PrimaryContainer: &types.ContainerDefinition{
				Image: aws.String("ebb example-model"), Environment: map[string]string{"WORK": "1"}, ModelDataUrl: aws.String("file:///tmp/model"),
			},
			ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/ebb"),
			Tags:             []types.Tag{{Key: aws.String("team"), Value: aws.String("ml")}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	m, err := sm.DescribeModel(ctx, &sagemaker.DescribeModelInput{ModelName: aws.String("alpha")})
	if err != nil {
		t.Fatal(err)
	}
	if *m.ModelArn != arnPrefix+"model/alpha" || *m.PrimaryContainer.Image != "ebb example-model" || m.PrimaryContainer.Environment["WORK"] != "1" ||
		*m.ExecutionRoleArn != "arn:aws:iam::123456789012:role/ebb" || m.CreationTime.Before(start) {
		t.Errorf("DescribeModel = %+v", m)
	}

	// Default order: CreationTime, Descending. Paging with the SDK paginator.
	var names []string
	p := sagemaker.NewListModelsPaginator(sm, &sagemaker.ListModelsInput{MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, m := range page.Models {
			names = append(names, *m.ModelName)
		}
	}
	if pages != 2 || len(names) != 3 || names[0] != "gamma-model" || names[2] != "beta" {
		t.Errorf("paged models %v in %d pages, want [gamma-model alpha beta] in 2", names, pages)
	}
	byName, _ := sm.ListModels(ctx, &sagemaker.ListModelsInput{SortBy: types.ModelSortKeyName, SortOrder: types.OrderKeyAscending})
	if len(byName.Models) != 3 || *byName.Models[0].ModelName != "alpha" {
		t.Errorf("by name: %+v", byName.Models)
	}
	contains, _ := sm.ListModels(ctx, &sagemaker.ListModelsInput{NameContains: aws.String("MODEL")})
	if len(contains.Models) != 1 || *contains.Models[0].ModelName != "gamma-model" {
		t.Errorf("NameContains: %+v", contains.Models)
	}
	none, _ := sm.ListModels(ctx, &sagemaker.ListModelsInput{CreationTimeBefore: aws.Time(start)})
	if len(none.Models) != 0 {
		t.Errorf("CreationTimeBefore: %+v", none.Models)
	}

	// Tags.
	arn := arnPrefix + "model/alpha"
	if _, err := sm.AddTags(ctx, &sagemaker.AddTagsInput{ResourceArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("team"), Value: aws.String("search")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := sm.ListTags(ctx, &sagemaker.ListTagsInput{ResourceArn: aws.String(arn)})
	if err != nil || len(tags.Tags) != 2 || *tags.Tags[0].Key != "env" || *tags.Tags[1].Value != "search" {
		t.Fatalf("ListTags = %+v, %v", tags, err)
	}
	if _, err := sm.DeleteTags(ctx, &sagemaker.DeleteTagsInput{ResourceArn: aws.String(arn), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	tags, _ = sm.ListTags(ctx, &sagemaker.ListTagsInput{ResourceArn: aws.String(arn)})
	if len(tags.Tags) != 1 || *tags.Tags[0].Key != "team" {
		t.Fatalf("after DeleteTags: %+v", tags.Tags)
	}

	// Endpoint configs.
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{
		EndpointConfigName: aws.String("cfg"),
		ProductionVariants: []types.ProductionVariant{{VariantName: aws.String("v1"), ModelName: aws.String("alpha"), InstanceType: types.ProductionVariantInstanceTypeMlC5Xlarge, InitialInstanceCount: aws.Int32(2), InitialVariantWeight: aws.Float32(0.5)}},
	}); err != nil {
		t.Fatal(err)
	}
	c, err := sm.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: aws.String("cfg")})
	if err != nil || *c.EndpointConfigArn != arnPrefix+"endpoint-config/cfg" || *c.ProductionVariants[0].InitialInstanceCount != 2 || *c.ProductionVariants[0].InitialVariantWeight != 0.5 {
		t.Fatalf("DescribeEndpointConfig = %+v, %v", c, err)
	}
	cfgs, _ := sm.ListEndpointConfigs(ctx, &sagemaker.ListEndpointConfigsInput{})
	if len(cfgs.EndpointConfigs) != 1 {
		t.Errorf("ListEndpointConfigs = %+v", cfgs.EndpointConfigs)
	}

	// A model's data directory reaches its instances; endpoints keep running
	// when their model and config are deleted, as in SageMaker.
	os.WriteFile(filepath.Join(modelDir, "model.json"), []byte(`{"seed": 11, "hidden": 16}`), 0o644)
	createConfigWithData(t, sm, "withdata", "file://"+modelDir)
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("withdata"), EndpointConfigName: aws.String("withdata")}); err != nil {
		t.Fatal(err)
	}
	waitInService(t, sm, "withdata")
	sm.DeleteModel(ctx, &sagemaker.DeleteModelInput{ModelName: aws.String("withdata")})
	sm.DeleteEndpointConfig(ctx, &sagemaker.DeleteEndpointConfigInput{EndpointConfigName: aws.String("withdata")})
	invoke(t, s.Runtime(), "withdata", "1,2")

	eps, _ := sm.ListEndpoints(ctx, &sagemaker.ListEndpointsInput{StatusEquals: types.EndpointStatusInService})
	if len(eps.Endpoints) != 1 || *eps.Endpoints[0].EndpointName != "withdata" {
		t.Errorf("ListEndpoints(InService) = %+v", eps.Endpoints)
	}
	eps, _ = sm.ListEndpoints(ctx, &sagemaker.ListEndpointsInput{StatusEquals: types.EndpointStatusFailed})
	if len(eps.Endpoints) != 0 {
		t.Errorf("ListEndpoints(Failed) = %+v", eps.Endpoints)
	}
}

func createConfigWithData(t *testing.T, sm *sagemaker.Client, name, dataURL string) {
	t.Helper()
	ctx := context.Background()
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(name), PrimaryContainer: &types.ContainerDefinition{Image: aws.String("ebb example-model"), ModelDataUrl: aws.String(dataURL)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{
		EndpointConfigName: aws.String(name),
		ProductionVariants: []types.ProductionVariant{{VariantName: aws.String("AllTraffic"), ModelName: aws.String(name), InstanceType: types.ProductionVariantInstanceTypeMlT2Medium, InitialInstanceCount: aws.Int32(1)}},
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSignatures runs a server with --credentials: signed requests pass,
// wrongly signed and unsigned ones get AWS's errors.
func TestSignatures(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("AKIDTEST secret\n"), 0o600)
	s := startServer(t, t.TempDir(), "--credentials", creds)
	ctx := context.Background()
	if _, err := s.SageMaker().ListEndpoints(ctx, &sagemaker.ListEndpointsInput{}); err != nil {
		t.Fatalf("signed request: %v", err)
	}
	wrong := sagemaker.NewFromConfig(awsConfig("AKIDTEST", "not-the-secret"), func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(s.URL) })
	_, err := wrong.ListEndpoints(ctx, &sagemaker.ListEndpointsInput{})
	expectAPIError(t, err, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	unknown := sagemaker.NewFromConfig(awsConfig("AKIDOTHER", "secret"), func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(s.URL) })
	_, err = unknown.ListEndpoints(ctx, &sagemaker.ListEndpointsInput{})
	expectAPIError(t, err, "UnrecognizedClientException", "The security token included in the request is invalid.")
	_, err = s.Runtime().InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("nope"), Body: []byte("1")})
	expectAPIError(t, err, "ValidationError", "Endpoint nope of account 123456789012 not found.")

	resp, body := send(t, "POST", s.URL+"/", map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListEndpoints"}, "{}")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"MissingAuthenticationTokenException"`) {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, body)
	}
	// With --credentials any Host is served (a Service name in a cluster):
	// the signature binds it.
	cfg := awsConfig("AKIDTEST", "secret")
	addr := strings.TrimPrefix(s.URL, "http://")
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	byName := sagemaker.NewFromConfig(cfg, func(o *sagemaker.Options) { o.BaseEndpoint = aws.String("http://ebb.ml.svc.cluster.local:8080") })
	if _, err := byName.ListEndpoints(ctx, &sagemaker.ListEndpointsInput{}); err != nil {
		t.Fatalf("signed request to a Service name: %v", err)
	}
}
