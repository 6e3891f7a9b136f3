package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// TestAsyncOutputNaming: InvokeEndpointAsync honours
// X-Amzn-SageMaker-Filename and -S3OutputPathExtension (the output object's
// name and its place under S3OutputPath), and refuses what the model
// refuses (InvocationTimeoutSeconds above 3600) or what would leave the
// output path.
func TestAsyncOutputNaming(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm, rt := s.SageMaker(), s.Runtime()
	ctx := context.Background()
	if _, err := s.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("async")}); err != nil {
		t.Fatal(err)
	}
	asyncConfig(t, sm, "named", model, "")
	waitInService(t, sm, "named")
	if _, err := s.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("async"), Key: aws.String("in.csv"), Body: strings.NewReader("1,2,3")}); err != nil {
		t.Fatal(err)
	}
	out, err := rt.InvokeEndpointAsync(ctx, &sagemakerruntime.InvokeEndpointAsyncInput{EndpointName: aws.String("named"),
		InputLocation: aws.String("s3://async/in.csv"), Filename: aws.String("result.json"), S3OutputPathExtension: aws.String("batch/7")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.OutputLocation); got != "s3://async/out/batch/7/result.json" {
		t.Fatalf("OutputLocation = %s", got)
	}
	t.Logf("the output arrived: %q", waitObject(t, s, "out/batch/7/result.json"))

	_, err = rt.InvokeEndpointAsync(ctx, &sagemakerruntime.InvokeEndpointAsyncInput{EndpointName: aws.String("named"),
		InputLocation: aws.String("s3://async/in.csv"), InvocationTimeoutSeconds: aws.Int32(3601)})
	expectAPIError(t, err, "ValidationError", "")
	_, err = rt.InvokeEndpointAsync(ctx, &sagemakerruntime.InvokeEndpointAsyncInput{EndpointName: aws.String("named"),
		InputLocation: aws.String("s3://async/in.csv"), S3OutputPathExtension: aws.String("a/../../b")})
	expectAPIError(t, err, "ValidationError", `S3OutputPathExtension "a/../../b" has a ".." path segment; ebb keeps results under the output path and refuses values that would leave it.`)
}
