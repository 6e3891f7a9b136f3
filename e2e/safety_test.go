package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	smrtypes "github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/types"
	"github.com/aws/smithy-go"
)

// send is one raw HTTP request with exactly the headers given ("Host" sets
// the Host header), for what no AWS client would send.
func send(t *testing.T, method, url string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	return do(t, req)
}

// do sends req and reads the whole answer.
func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestSafeBrowsersStayOut reproduces what a web page could do to a local
// ebb without --credentials: a cross-origin form post that deletes alarms
// (CSRF) and, through DNS rebinding, requests with the attacker's Host that
// create a model (a command line). Each is refused with 403 in the
// protocol's error shape and changes nothing; AWS clients still work, and
// --allowed-host admits a name on purpose.
func TestSafeBrowsersStayOut(t *testing.T) {
	s := startServer(t, t.TempDir(), "--allowed-host", "ebb.test")
	ctx := context.Background()
	cw := s.cloudWatchClients()["awsquery"]
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("keep-me"), Namespace: aws.String("App"), MetricName: aws.String("M"),
		Statistic: "Average", Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
		ComparisonOperator: "GreaterThanThreshold",
	}); err != nil {
		t.Fatal(err)
	}
	form := "Action=DeleteAlarms&Version=2010-08-01&AlarmNames.member.1=keep-me"
	formHeaders := func(extra map[string]string) map[string]string {
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	createModel := `{"ModelName":"pwned","PrimaryContainer":{"Image":"touch /tmp/pwned"},"ExecutionRoleArn":"arn:aws:iam::123456789012:role/x"}`
	smHeaders := func(extra map[string]string) map[string]string {
		h := map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.CreateModel"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	for _, tt := range []struct {
		name     string
		header   map[string]string
		body     string
		status   int
		contains string
	}{
		{"cross-origin form post", formHeaders(map[string]string{"Origin": "http://attacker.example"}), form, 403, "<Code>AccessDenied</Code>"},
		{"form post, no Origin, no Authorization", formHeaders(nil), form, 403, "<Code>MissingAuthenticationToken</Code>"},
		{"cross-site fetch metadata", formHeaders(map[string]string{"Sec-Fetch-Site": "cross-site", "Authorization": anyAuth}), form, 403, "<Code>AccessDenied</Code>"},
		{"rebinding Host", smHeaders(map[string]string{"Host": "attacker.example:8080", "Authorization": anyAuth}), createModel, 403, `"__type":"AccessDeniedException"`},
		{"rebinding Host, same Origin", smHeaders(map[string]string{"Host": "attacker.example", "Origin": "http://attacker.example", "Authorization": anyAuth}), createModel, 403, "--allowed-host"},
		{"no Authorization", smHeaders(nil), createModel, 403, `"__type":"MissingAuthenticationTokenException"`},
		{"malformed Authorization", smHeaders(map[string]string{"Authorization": "Bearer x"}), createModel, 400, `"__type":"IncompleteSignatureException"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, "POST", s.URL+"/", tt.header, tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.contains) {
				t.Fatalf("%d %s, want %d with %s", resp.StatusCode, body, tt.status, tt.contains)
			}
		})
	}
	// Nothing changed.
	alarms, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"keep-me"}})
	if err != nil || len(alarms.MetricAlarms) != 1 {
		t.Fatalf("the alarm is gone: %v %v", alarms, err)
	}
	sm := s.SageMaker()
	if _, err := sm.DescribeModel(ctx, &sagemaker.DescribeModelInput{ModelName: aws.String("pwned")}); err == nil {
		t.Fatal("the refused CreateModel created a model")
	}
	// A name given with --allowed-host is served, as is localhost.
	for _, host := range []string{"ebb.test", "ebb.test:1234", "localhost"} {
		resp, body := send(t, "POST", s.URL+"/", map[string]string{"Host": host, "Authorization": anyAuth,
			"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListModels"}, "{}")
		if resp.StatusCode != 200 {
			t.Errorf("Host %s: %d %s", host, resp.StatusCode, body)
		}
	}
	// The same-origin page (the console) may call the API.
	resp, body := send(t, "POST", s.URL+"/", map[string]string{"Origin": s.URL, "Authorization": anyAuth,
		"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListModels"}, "{}")
	if resp.StatusCode != 200 {
		t.Errorf("same origin: %d %s", resp.StatusCode, body)
	}
	// /healthz and /metrics need no signature (probes and Prometheus).
	if resp, _ := send(t, "GET", s.URL+"/healthz", nil, ""); resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
}

// TestSafeVerifiedPayloads replays a signed S3 PUT with another body: it is
// refused and nothing is stored (today's failure stored it). A truncated
// aws-chunked upload is an error, never a complete object; a credential
// scoped to another region or service is refused.
func TestSafeVerifiedPayloads(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("AKIDTEST secret\n"), 0o600)
	s := startServer(t, t.TempDir(), "--credentials", creds)
	ctx := context.Background()
	s3c := s.S3()
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("payloads")}); err != nil {
		t.Fatal(err)
	}
	signedPut := func(key, signedBody, sentBody string, header map[string]string, service, region string) (*http.Response, string) {
		req, _ := http.NewRequest("PUT", s.URL+"/payloads/"+key, strings.NewReader(sentBody))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		sum := sha256.Sum256([]byte(signedBody))
		hash := hex.EncodeToString(sum[:])
		if v := header["X-Amz-Content-Sha256"]; v != "" {
			hash = v
		}
		signFor(t, req, hash, service, region)
		return do(t, req)
	}
	stored := func(key string) bool {
		_, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("payloads"), Key: aws.String(key)})
		return err == nil
	}
	if resp, body := signedPut("good", "1,2,3", "1,2,3", nil, "s3", "us-east-1"); resp.StatusCode != 200 || !stored("good") {
		t.Fatalf("signed PUT: %d %s", resp.StatusCode, body)
	}
	for _, tt := range []struct {
		name, key, signed, sent string
		header                  map[string]string
		service, region, code   string
	}{
		{"tampered body", "tampered", "1,2,3", "rm -rf /", nil, "s3", "us-east-1", "XAmzContentSHA256Mismatch"},
		{"truncated aws-chunked", "truncated", "", "a;chunk-signature=00\r\n12345", map[string]string{"Content-Encoding": "aws-chunked",
			"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "X-Amz-Decoded-Content-Length": "10"}, "s3", "us-east-1", "IncompleteBody"},
		{"other region", "region", "x", "x", nil, "s3", "eu-west-1", "SignatureDoesNotMatch"},
		{"other service", "service", "x", "x", nil, "sagemaker", "us-east-1", "SignatureDoesNotMatch"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := signedPut(tt.key, tt.signed, tt.sent, tt.header, tt.service, tt.region)
			if resp.StatusCode < 400 || !strings.Contains(body, "<Code>"+tt.code+"</Code>") {
				t.Fatalf("%d %s, want %s", resp.StatusCode, body, tt.code)
			}
			if stored(tt.key) {
				t.Fatalf("the refused PUT stored %s", tt.key)
			}
		})
	}
	// A chunk-signed streaming upload: each chunk's signature chains from
	// the request's; a changed chunk is refused.
	chunked := func(key, data, sent string) (*http.Response, string) {
		req, _ := http.NewRequest("PUT", s.URL+"/payloads/"+key, nil)
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
		req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
		at := time.Now()
		creds := aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", "us-east-1", at); err != nil {
			t.Fatal(err)
		}
		auth := req.Header.Get("Authorization")
		seed, _ := hex.DecodeString(auth[strings.LastIndex(auth, "Signature=")+len("Signature="):])
		cs := v4.NewStreamSigner(creds, "s3", "us-east-1", seed)
		sig1, _ := cs.GetSignature(ctx, nil, []byte(data), at)
		sig2, _ := cs.GetSignature(ctx, nil, nil, at)
		body := fmt.Sprintf("%x;chunk-signature=%x\r\n%s\r\n0;chunk-signature=%x\r\n\r\n", len(sent), sig1, sent, sig2)
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
		return do(t, req)
	}
	if resp, body := chunked("streamed", "hello", "hello"); resp.StatusCode != 200 || !stored("streamed") {
		t.Fatalf("chunk-signed PUT: %d %s", resp.StatusCode, body)
	}
	if resp, body := chunked("streamed-tampered", "hello", "HELLO"); resp.StatusCode != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") || stored("streamed-tampered") {
		t.Fatalf("tampered chunk: %d %s", resp.StatusCode, body)
	}
	// The SDK's own uploads (its checksums included) still work.
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("payloads"), Key: aws.String("sdk"), Body: strings.NewReader("4,5,6")}); err != nil {
		t.Fatal(err)
	}
}

// bigAnswerModel is a model server (python3's standard library) whose
// answers are 7 MB, above what InvokeEndpoint may return.
const bigAnswerModel = `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        body = b'x' * (7 << 20)
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', int(os.environ['SAGEMAKER_BIND_TO_PORT'])), H).serve_forever()
`

// TestSafeNoServerErrors sends what used to get a 500, a missing awsQuery
// <Code>, an unchecked header, a write outside the output prefix or a
// passed-through oversized answer: each gets AWS's error for it.
func TestSafeNoServerErrors(t *testing.T) {
	s := startServer(t, t.TempDir())
	ctx := context.Background()

	// Metric math that overflows: Infinity in every protocol, not a 500.
	cws := s.cloudWatchClients()
	now := time.Now().Truncate(time.Minute)
	if _, err := cws["cbor"].PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("App"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("Big"), Value: aws.Float64(1e100), Timestamp: aws.Time(now.Add(-time.Minute))}}}); err != nil {
		t.Fatal(err)
	}
	for proto, cw := range cws {
		out, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Minute)),
			MetricDataQueries: []cwtypes.MetricDataQuery{
				{Id: aws.String("m1"), ReturnData: aws.Bool(false), MetricStat: &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String("App"), MetricName: aws.String("Big")}, Period: aws.Int32(60), Stat: aws.String("Sum")}},
				{Id: aws.String("sq"), Expression: aws.String("m1*m1*m1*m1")},
				{Id: aws.String("neg"), Expression: aws.String("-m1*m1*m1*m1")},
			}})
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if len(out.MetricDataResults) != 2 || len(out.MetricDataResults[0].Values) != 1 ||
			!math.IsInf(out.MetricDataResults[0].Values[0], 1) || !math.IsInf(out.MetricDataResults[1].Values[0], -1) {
			t.Fatalf("%s: %+v", proto, out.MetricDataResults)
		}
	}

	// awsQuery errors always carry a <Code>: a body above CloudWatch's limit.
	resp, body := send(t, "POST", s.URL+"/", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": anyAuth},
		"Action=ListMetrics&Version=2010-08-01&Namespace="+strings.Repeat("x", 2<<20))
	if resp.StatusCode != 413 || !strings.Contains(body, "<Code>RequestEntityTooLarge</Code>") {
		t.Fatalf("large awsQuery body: %d %s", resp.StatusCode, body)
	}

	// ... and the Go SDK's awsQuery client reads it: PutMetricData above
	// CloudWatch's 1 MB (after the SDK's own gzip) is RequestEntityTooLarge.
	big := make([]cwtypes.MetricDatum, 1000)
	for i := range big {
		big[i] = cwtypes.MetricDatum{MetricName: aws.String(fmt.Sprintf("m%d", i)), Value: aws.Float64(1),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("d"), Value: aws.String(fmt.Sprintf("%04d", i) + strings.Repeat("v", 1000))}}}
	}
	_, err := cws["awsquery"].PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("App"), MetricData: big})
	expectAPIError(t, err, "RequestEntityTooLarge", "")

	// S3 errors do not name the data directory.
	s3c := s.S3()
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("async")}); err != nil {
		t.Fatal(err)
	}
	s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("async"), Key: aws.String("file"), Body: strings.NewReader("x")})
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("async"), Key: aws.String("file/child"), Body: strings.NewReader("y")})
	if err == nil || strings.Contains(err.Error(), s.Data) {
		t.Fatalf("PUT under a file: %v", err)
	}

	// InvokeEndpointAsync's headers are validated, and no InferenceId
	// writes outside the output prefix.
	sm, rt := s.SageMaker(), s.Runtime()
	asyncConfig(t, sm, "asafe", model, "")
	waitInService(t, sm, "asafe")
	for _, tt := range []struct {
		name string
		in   sagemakerruntime.InvokeEndpointAsyncInput
		msg  string
	}{
		{"TTL too short", sagemakerruntime.InvokeEndpointAsyncInput{RequestTTLSeconds: aws.Int32(5)}, "requestTTLSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"},
		{"TTL too long", sagemakerruntime.InvokeEndpointAsyncInput{RequestTTLSeconds: aws.Int32(21601)}, "less than or equal to 21600"},
		{"timeout zero", sagemakerruntime.InvokeEndpointAsyncInput{InvocationTimeoutSeconds: aws.Int32(0)}, "invocationTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"timeout too long", sagemakerruntime.InvokeEndpointAsyncInput{InvocationTimeoutSeconds: aws.Int32(3601)}, "less than or equal to 3600"},
		{"inference id pattern", sagemakerruntime.InvokeEndpointAsyncInput{InferenceId: aws.String("tab\tinside")}, "inferenceId' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"inference id escapes", sagemakerruntime.InvokeEndpointAsyncInput{InferenceId: aws.String("../../x")}, `InferenceId "../../x" has a ".." path segment`},
		{"filename pattern", sagemakerruntime.InvokeEndpointAsyncInput{Filename: aws.String("a..b.json")}, "filename' failed to satisfy constraint: Member must satisfy regular expression pattern"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.EndpointName, in.InputLocation = aws.String("asafe"), aws.String("s3://async/file")
			_, err := rt.InvokeEndpointAsync(ctx, &in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" || !strings.Contains(ae.ErrorMessage(), tt.msg) {
				t.Fatalf("got %v, want ValidationError with %q", err, tt.msg)
			}
		})
	}
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("async")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		if k := aws.ToString(o.Key); k != "file" {
			t.Errorf("a refused invocation wrote %s", k)
		}
	}

	// A model answer above 6 MB is a ModelError, not passed through.
	// The system's python3: as root, ebb runs the model as nobody, who
	// cannot reach a python3 under /root (pyenv).
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3: the oversized-answer model needs it")
	}
	scriptDir := t.TempDir()
	openToInstances(t, scriptDir)
	script := filepath.Join(scriptDir, "big.py")
	os.WriteFile(script, []byte(bigAnswerModel), 0o644)
	deploy(t, sm, "bigans", python+" "+script, 1)
	waitInService(t, sm, "bigans")
	_, err = rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("bigans"), Body: []byte("1"), ContentType: aws.String("text/csv")})
	var me *smrtypes.ModelError
	if !errors.As(err, &me) || aws.ToInt32(me.OriginalStatusCode) != 200 || !strings.Contains(aws.ToString(me.Message), "larger than the 6291456 bytes") {
		t.Fatalf("7 MB answer: %v", err)
	}
}

// peakRSS is a process's high-water resident set (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// concurrently sends n copies of a request at once and returns the
// statuses (0 for a connection the server closed before answering).
func concurrently(t *testing.T, n int, req func() *http.Request) []int {
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.DefaultClient.Do(req())
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	return statuses
}

// TestSafeBoundedMemory sends 32 concurrent 8 MiB bodies (today the server
// went from 28 MB to 955 MB), then 32 concurrent unsigned 6 MB invocations
// to a server with --credentials (273 MB): bodies above a service's limit
// and unauthenticated ones are refused before they are read, and the
// in-flight budget answers 503 beyond it.
func TestSafeBoundedMemory(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("AKIDTEST secret\n"), 0o600)
	s := startServer(t, t.TempDir(), "--credentials", creds, "--max-inflight-bytes", "16777216")
	big := bytes.Repeat([]byte("x"), 8<<20)
	statuses := concurrently(t, 32, func() *http.Request {
		req, _ := http.NewRequest("POST", s.URL+"/", bytes.NewReader(big))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "SageMaker.CreateModel")
		return req
	})
	payload := bytes.Repeat([]byte("1"), 6<<20)
	statuses = append(statuses, concurrently(t, 32, func() *http.Request {
		req, _ := http.NewRequest("POST", s.URL+"/endpoints/x/invocations", bytes.NewReader(payload))
		req.Header.Set("Content-Type", "text/csv")
		return req
	})...)
	answered := 0
	for _, st := range statuses {
		if st != 0 && st != 403 && st != 413 {
			t.Fatalf("status %d: want 403 or 413 (or a closed connection)", st)
		}
		if st != 0 {
			answered++
		}
	}
	if answered == 0 {
		t.Fatal("no request was answered")
	}
	peak := peakRSS(t, s.cmd.Process.Pid)
	t.Logf("peak RSS after 64 large refused bodies: %.1f MiB", float64(peak)/(1<<20))
	if peak > 150<<20 {
		t.Errorf("peak RSS %d MiB: bodies were read before they were refused", peak>>20)
	}

	// The budget: two 6 MB invocations whose bodies are still arriving hold
	// 12 of its 16 MiB; a third is refused with 503 until they finish.
	hold := func() net.Conn {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", s.URL+"/endpoints/x/invocations", nil)
		req.Header.Set("Content-Type", "text/csv")
		sign(t, req, payload)
		fmt.Fprintf(c, "POST /endpoints/x/invocations HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, len(payload))
		req.Header.Write(c)
		fmt.Fprint(c, "\r\n1")
		return c
	}
	c1, c2 := hold(), hold()
	third := func() int {
		req, _ := http.NewRequest("POST", s.URL+"/endpoints/x/invocations", bytes.NewReader(payload))
		req.Header.Set("Content-Type", "text/csv")
		sign(t, req, payload)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == 503 && !strings.Contains(string(b), "ThrottlingException") {
			t.Fatalf("503 without ThrottlingException: %s", b)
		}
		return resp.StatusCode
	}
	eventually(t, 30*time.Second, "a third large body refused while two hold the budget", func() (bool, any) {
		code := third()
		return code == 503, code
	})
	c1.Close()
	c2.Close()
	eventually(t, 30*time.Second, "the budget released when the held requests ended", func() (bool, any) {
		code := third()
		return code != 503, code
	})
}

// TestSafeUnknownMembers: members the model does not define are dropped,
// as AWS drops them, so they are neither stored nor echoed (a client could
// otherwise park megabytes in every Describe answer and list page).
func TestSafeUnknownMembers(t *testing.T) {
	s := startServer(t, t.TempDir())
	junk := strings.Repeat("j", 400<<10)
	call := func(op, body string) (int, string) {
		resp, b := send(t, "POST", s.URL+"/", map[string]string{"Authorization": anyAuth, "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op}, body)
		return resp.StatusCode, b
	}
	if st, b := call("CreateModel", `{"ModelName":"padded","ExecutionRoleArn":"arn:aws:iam::123456789012:role/x","Junk":"`+junk+`","PrimaryContainer":{"Image":"ebb example-model","Junk":"`+junk+`"}}`); st != 200 {
		t.Fatalf("CreateModel: %d %s", st, b)
	}
	st, b := call("DescribeModel", `{"ModelName":"padded"}`)
	if st != 200 || strings.Contains(b, "Junk") || len(b) > 4096 {
		t.Fatalf("DescribeModel: %d, %d bytes: %.200s", st, len(b), b)
	}
	if !strings.Contains(b, `"Image":"ebb example-model"`) {
		t.Fatalf("DescribeModel lost the modelled members: %s", b)
	}
}

// sign signs req for SageMaker with the test credentials.
func sign(t *testing.T, req *http.Request, body []byte) {
	t.Helper()
	sum := sha256.Sum256(body)
	signFor(t, req, hex.EncodeToString(sum[:]), "sagemaker", "us-east-1")
}

// signFor signs req with the test credentials for a payload hash, service
// and region.
func signFor(t *testing.T, req *http.Request, hash, service, region string) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, req, hash, service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestSafeSlowClients holds 500 connections whose bodies trickle in (today
// they were held indefinitely) and a request with 100 KB of headers: the
// slow bodies get 400 RequestTimeout after --body-read-timeout, the large
// headers 431, and other clients are served all along.
func TestSafeSlowClients(t *testing.T) {
	s := startServer(t, t.TempDir(), "--body-read-timeout", "1s")
	addr := strings.TrimPrefix(s.URL, "http://")
	conns := make([]net.Conn, 500)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: SageMaker.ListModels\r\nContent-Length: 100\r\n\r\n{", addr, anyAuth)
		conns[i] = c
	}
	// Others are served while the slow ones wait.
	for range 20 {
		if _, err := s.SageMaker().ListModels(context.Background(), &sagemaker.ListModelsInput{}); err != nil {
			t.Fatalf("a normal client was not served: %v", err)
		}
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "RequestTimeout") {
			t.Fatalf("slow connection %d: %d %s", i, resp.StatusCode, b)
		}
	}
	resp, _ := send(t, "POST", s.URL+"/", map[string]string{"Authorization": anyAuth, "X-Padding": strings.Repeat("p", 100<<10)}, "{}")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KB of headers: %d", resp.StatusCode)
	}
}

// TestSafeInstanceReach: an API caller's command line does not run as
// root, a ModelDataUrl outside the model data roots is refused, and a
// decompression bomb (a 100 KB archive of 100 MiB) is not extracted.
func TestSafeInstanceReach(t *testing.T) {
	roots := t.TempDir()
	openToInstances(t, roots)
	bomb := filepath.Join(roots, "bomb.tar.gz")
	writeZerosArchive(t, bomb, 100<<20)
	s := startServer(t, t.TempDir(), "--model-data-root", roots)
	sm := s.SageMaker()
	ctx := context.Background()
	deploy(t, sm, "who", model, 1)
	waitInService(t, sm, "who")
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatal(err)
		}
		for id, pid := range s.instances() {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] != nobody.Uid {
					t.Errorf("instance %s runs as uid %s, want nobody (%s)", id, f[1], nobody.Uid)
				}
			}
		}
	}
	for name, tt := range map[string]struct{ url, reason string }{
		"outside": {"file:///etc", "is not under an allowed model data root"},
		"bomb":    {"file://" + bomb, "decompression bomb"},
	} {
		if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(name), ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/x"),
			PrimaryContainer: &smtypes.ContainerDefinition{Image: aws.String(model), ModelDataUrl: aws.String(tt.url)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String(name),
			ProductionVariants: []smtypes.ProductionVariant{{VariantName: aws.String("v"), ModelName: aws.String(name), InstanceType: smtypes.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		out := waitFor(t, sm, name, name+" fails", func(o *sagemaker.DescribeEndpointOutput) bool { return o.EndpointStatus == "Failed" })
		if reason := aws.ToString(out.FailureReason); !strings.Contains(reason, tt.reason) || strings.Contains(reason, s.Data) {
			t.Errorf("%s: FailureReason %q, want %q and no data directory", name, reason, tt.reason)
		}
	}
	if peak := peakRSS(t, s.cmd.Process.Pid); peak > 150<<20 {
		t.Errorf("peak RSS %d MiB", peak>>20)
	}
}

// writeZerosArchive writes a .tar.gz holding one file of n zero bytes.
func writeZerosArchive(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "weights.bin", Mode: 0o644, Size: n, Typeflag: tar.TypeReg})
	io.Copy(tw, io.LimitReader(zeros{}, n))
	tw.Close()
	gz.Close()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// pastPresigner presigns as the SDK does, at a time long enough ago for the
// URL to have expired.
type pastPresigner struct{ ago time.Duration }

func (p pastPresigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, at time.Time, opts ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return v4.NewSigner().PresignHTTP(ctx, creds, r, payloadHash, service, region, at.Add(-p.ago), opts...)
}

// TestPresignedURLs: with --credentials, URLs presigned by the Go SDK (GET
// and PUT) are served; one signed with another secret, for another key,
// past its expiry, or with Signature Version 2 is refused and changes
// nothing.
func TestPresignedURLs(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("AKIDTEST secret\n"), 0o600)
	s := startServer(t, t.TempDir(), "--credentials", creds)
	ctx := context.Background()
	c := s.S3()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	do := func(method, url, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	presign := s3.NewPresignClient(c)
	put, err := presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("in/report 1.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do("PUT", put.URL, "a,b\n1,2\n"); code != 200 {
		t.Fatalf("presigned PUT: %d %s", code, body)
	}
	get, err := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("in/report 1.csv")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do("GET", get.URL, ""); code != 200 || body != "a,b\n1,2\n" {
		t.Fatalf("presigned GET: %d %q", code, body)
	}

	wrong := s3.NewPresignClient(s3.NewFromConfig(awsConfig("AKIDTEST", "not the secret"), func(o *s3.Options) { o.BaseEndpoint = aws.String(s.URL); o.UsePathStyle = true }))
	forged, _ := wrong.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("in/report 1.csv")})
	expired, _ := s3.NewPresignClient(c, func(o *s3.PresignOptions) { o.Presigner = pastPresigner{time.Hour} }).
		PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("in/report 1.csv")}, s3.WithPresignExpires(15*time.Minute))
	for _, c := range []struct {
		name, method, url, code string
	}{
		{"another secret", "PUT", forged.URL, "SignatureDoesNotMatch"},
		{"expired", "PUT", expired.URL, "AccessDenied"},
		{"another key", "PUT", strings.Replace(put.URL, "report%201.csv", "other.csv", 1), "SignatureDoesNotMatch"},
		{"GET's URL for a PUT", "PUT", get.URL, "SignatureDoesNotMatch"},
		{"Signature Version 2", "GET", s.URL + "/shared/in/report%201.csv?AWSAccessKeyId=AKIDTEST&Expires=1900000000&Signature=c2lnbmF0dXJl", "AuthorizationHeaderMalformed"},
	} {
		code, body := do(c.method, c.url, "overwritten")
		if code < 400 || !strings.Contains(body, "<Code>"+c.code+"</Code>") {
			t.Errorf("%s: %d %s, want %s", c.name, code, body, c.code)
		}
		if c.name == "Signature Version 2" && !strings.Contains(body, "Signature Version 2") {
			t.Errorf("the SigV2 refusal does not say SigV2 is not supported: %s", body)
		}
	}
	if code, body := do("GET", get.URL, ""); code != 200 || body != "a,b\n1,2\n" {
		t.Fatalf("after the refused requests: %d %q", code, body)
	}
}

// TestPrivateDataDirAsRoot: as root, a data directory the instance user
// cannot enter (mktemp -d makes it 0700) serves: the instances' directories
// go to /var/lib/ebb/instances/<hash>, root's, mode 0711, and the instance
// still runs as nobody.
func TestPrivateDataDirAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs instances as another user: needs root")
	}
	data, err := os.MkdirTemp("", "ebb-private-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(data)
	s := launchServer(t, data)
	var dir string
	if m := regexp.MustCompile(`instance directories are outside the data directory.* dir=(\S+)`).FindStringSubmatch(s.Log()); m != nil {
		dir = m[1]
	}
	if !strings.HasPrefix(dir, "/var/lib/ebb/instances/") {
		t.Fatalf("instance directory %q, want one under /var/lib/ebb/instances\n%s", dir, s.Log())
	}
	defer os.RemoveAll(dir)
	sm := s.SageMaker()
	deploy(t, sm, "private", "ebb example-model --work-ms 1", 1)
	waitInService(t, sm, "private")
	invoke(t, s.Runtime(), "private", "1,2,3")
	for _, p := range []string{"/var/lib/ebb", "/var/lib/ebb/instances", dir} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm()&0o001 == 0 || info.Mode().Perm()&0o004 != 0 && p != "/var/lib/ebb" {
			t.Errorf("%s: %v %v, want enterable, not listable by others", p, info.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "instances"))
	if len(entries) != 1 {
		t.Fatalf("instance directories in %s: %v, want the one instance's", dir, entries)
	}
}
