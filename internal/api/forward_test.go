package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/ebbscale/ebb/internal/api"
	"github.com/ebbscale/ebb/internal/leader"
)

// TestFollowerWithoutALeaderAnswersInTheClientsProtocol: a follower that
// finds no leader within its hold answers 503 ServiceUnavailable that the
// Go SDK decodes as such, on CloudWatch's default RPC v2 CBOR as on
// SageMaker's awsJson (so the SDK's retryer retries it), rather than an
// awsJson body a CBOR client cannot read.
func TestFollowerWithoutALeaderAnswersInTheClientsProtocol(t *testing.T) {
	var none leader.Signal
	fwd := leader.NewForwarder(leader.Forwarder{Leader: func() string { return "" }, Self: "http://self", Changes: none.Wait,
		Hold: 10 * time.Millisecond, Local: func() http.Handler { return nil }})
	srv := httptest.NewServer(api.NewHandler(api.Config{Forward: fwd}))
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
	ctx := context.Background()
	cw := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, cwErr := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{})
	sm := sagemaker.NewFromConfig(cfg, func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, smErr := sm.ListEndpoints(ctx, &sagemaker.ListEndpointsInput{})
	for name, err := range map[string]error{"CloudWatch (CBOR)": cwErr, "SageMaker (awsJson)": smErr} {
		var ae smithy.APIError
		var re *smithyhttp.ResponseError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
			t.Errorf("%s: %v, want 503 ServiceUnavailable as the SDK reads it", name, err)
		}
	}
}
