package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/ebbscale/ebb/internal/store/postgres/pgtest"
)

// TestPostgresServer runs ebb on PostgreSQL: state survives a restart onto
// another data directory; while PostgreSQL is down, calls that need it get
// ServiceUnavailable (503, which SDKs retry) and change nothing; ebb
// reconnects by itself; a second server on the process runtime is refused.
func TestPostgresServer(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs PostgreSQL")
	}
	pg := pgtest.Start(t)
	dsn := pg.Database(t)
	ctx := context.Background()
	s := startServer(t, t.TempDir(), "--store", dsn)
	sm := s.SageMaker()
	deploy(t, sm, "pgep", model, 1)
	waitInService(t, sm, "pgep")
	s.Stop()

	s2 := startServer(t, t.TempDir(), "--store", dsn)
	sm = s2.SageMaker()
	out := waitInService(t, sm, "pgep")
	if aws.ToString(out.EndpointConfigName) != "pgep" {
		t.Fatalf("endpoint after the restart = %+v", out)
	}
	// Its instance was a process of the first server: a new one starts.
	waitFor(t, sm, "pgep", "an instance again", func(o *sagemaker.DescribeEndpointOutput) bool { return *variantOf(o).CurrentInstanceCount == 1 })
	invoke(t, s2.Runtime(), "pgep", "1,2,3")

	// A second server on the same database, process runtime: refused.
	cmd := exec.Command(ebbBin, "server", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--store", dsn)
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "another ebb server on the process runtime already uses this database") {
		t.Fatalf("a second server on the database: %v\n%s", err, b)
	}

	// PostgreSQL goes down: 503 ServiceUnavailable, nothing changes.
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("while-down"),
		PrimaryContainer: &types.ContainerDefinition{Image: aws.String(model)}, ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/ebb")})
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("CreateModel while PostgreSQL is down: %v, want 503 ServiceUnavailable", err)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "CreateModel once PostgreSQL is back", func() (bool, any) {
		_, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("after-restart"),
			PrimaryContainer: &types.ContainerDefinition{Image: aws.String(model)}, ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/ebb")})
		return err == nil, err
	})
	if _, err := sm.DescribeModel(ctx, &sagemaker.DescribeModelInput{ModelName: aws.String("while-down")}); err == nil {
		t.Fatal("the model refused while PostgreSQL was down exists")
	}
	if _, err := sm.DescribeModel(ctx, &sagemaker.DescribeModelInput{ModelName: aws.String("pgep")}); err != nil {
		t.Fatalf("state from before the outage: %v", err)
	}
}

// TestPostgresBadDSN: a DSN that is wrong at start makes ebb exit at once,
// naming the problem.
func TestPostgresBadDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://ebb@127.0.0.1:1/ebb?sslmode=disable&connect_timeout=5": "cannot reach PostgreSQL at 127.0.0.1:1",
		"mysql://x":                         "want a postgres:// URL",
		"postgres://ebb@127.0.0.1:5432/%zz": "--store",
	} {
		start := time.Now()
		b, err := exec.Command(ebbBin, "server", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--store", dsn).CombinedOutput()
		if err == nil || !strings.Contains(string(b), want) {
			t.Errorf("--store %s: %v\n%s\nwant an error containing %q", dsn, err, b, want)
		}
		if time.Since(start) > 20*time.Second {
			t.Errorf("--store %s took %v to fail", dsn, time.Since(start))
		}
	}
}
