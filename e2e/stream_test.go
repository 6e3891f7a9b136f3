package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/types"
)

// TestResponseStream: InvokeEndpointWithResponseStream through the Go
// SDK's event-stream reader: the model's tokens arrive one PayloadPart at a
// time, as the model writes them, not once the answer is complete; boto3
// iterates the same stream.
func TestResponseStream(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm := s.SageMaker()
	deploy(t, sm, "llm", "ebb example-model --work-ms 1 --stream-tokens 6 --token-delay 150ms", 1)
	waitInService(t, sm, "llm")
	start := time.Now()
	out, err := s.Runtime().InvokeEndpointWithResponseStream(context.Background(), &sagemakerruntime.InvokeEndpointWithResponseStreamInput{
		EndpointName: aws.String("llm"), Body: []byte("1,2,3"), ContentType: aws.String("text/csv"),
	})
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var parts []string
	var first time.Duration
	for ev := range stream.Events() {
		p, ok := ev.(*types.ResponseStreamMemberPayloadPart)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		if first == 0 {
			first = time.Since(start)
		}
		parts = append(parts, string(p.Value.Bytes))
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	whole := strings.Join(parts, "")
	t.Logf("%d parts, first after %v, all after %v: %q", len(parts), first, total, whole)
	if len(parts) < 6 || !strings.HasPrefix(whole, "token-1 token-2 ") || !strings.Contains(whole, "scores=") {
		t.Fatalf("parts = %q, want the six tokens one by one", parts)
	}
	if first > total-500*time.Millisecond {
		t.Fatalf("the first part came after %v of %v: the answer was buffered", first, total)
	}
	if aws.ToString(out.InvokedProductionVariant) != "AllTraffic" || !strings.HasPrefix(aws.ToString(out.ContentType), "text/plain") {
		t.Errorf("InvokedProductionVariant %q, ContentType %q", aws.ToString(out.InvokedProductionVariant), aws.ToString(out.ContentType))
	}

	// boto3 (the newest installed: Debian's 1.26 predates the operation).
	py := `
import sys, boto3
rt = boto3.client("sagemaker-runtime", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
resp = rt.invoke_endpoint_with_response_stream(EndpointName="llm", Body=b"1,2,3", ContentType="text/csv")
parts = [e["PayloadPart"]["Bytes"].decode() for e in resp["Body"] if "PayloadPart" in e]
print(len(parts), "".join(parts).strip())
`
	for _, python := range []string{os.ExpandEnv("$HOME/.pyenv/shims/python3"), "python3"} {
		out, err := exec.Command(python, "-c", py, s.URL).CombinedOutput()
		if err != nil {
			t.Logf("%s: %v: %s", python, err, lastLines(string(out), 2))
			continue
		}
		t.Logf("boto3 (%s): %s", python, strings.TrimSpace(string(out)))
		if !strings.HasPrefix(string(out), "6 token-1") {
			t.Fatalf("boto3 read %q", out)
		}
		return
	}
	t.Log("no boto3 with invoke_endpoint_with_response_stream here; the Go SDK leg ran")
}
