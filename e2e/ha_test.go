package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/ebbscale/ebb/internal/store/postgres"
	"github.com/ebbscale/ebb/internal/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// haReplicas starts n ebb replicas on one PostgreSQL database and the
// Kubernetes control plane, electing a leader with one Lease; extra are
// more flags for every replica. Pods of kubeModel answer in 2 ms, of
// slowModel in 300 ms.
func haReplicas(t testing.TB, n int, extra ...string) (*kubeServer, []*server, func(i int) *server) {
	t.Helper()
	return haReplicasOn(t, pgtest.Shared(t).Database(t), n, extra...)
}

// haReplicasOn is haReplicas on the PostgreSQL database dsn.
func haReplicasOn(t testing.TB, dsn string, n int, extra ...string) (*kubeServer, []*server, func(i int) *server) {
	t.Helper()
	c := kubeCluster(t)
	ns := c.Namespace(t)
	runner := c.Run(t, ns, map[string][]string{kubeModel: {ebbBin, "example-model", "--work-ms", "2"},
		slowModel: {ebbBin, "example-model", "--work-ms", "300"}}, nil)
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	dirs := make([]string, n)
	start := func(i int) *server {
		url := fmt.Sprintf("http://127.0.0.1:%d", ports[i])
		return startServer(t, dirs[i], append([]string{"--listen", fmt.Sprintf("127.0.0.1:%d", ports[i]), "--runtime", "kubernetes",
			"--kubeconfig", c.Kubeconfig, "--namespace", ns, "--store", dsn, "--ha-lease", "ebb-leader", "--advertise-url", url}, extra...)...)
	}
	var reps []*server
	for i := range n {
		dirs[i] = t.TempDir()
		reps = append(reps, start(i))
	}
	return &kubeServer{cluster: c, ns: ns, runner: runner}, reps, start
}

// leaderOf waits until one of the live replicas says it leads.
func leaderOf(t testing.TB, reps []*server, skip map[*server]bool, limit time.Duration) int {
	t.Helper()
	lead := -1
	eventually(t, limit, "a replica leads", func() (bool, any) {
		for i, r := range reps {
			if !skip[r] && strings.Contains(r.Log(), `msg="serving as the leader"`) {
				lead = i
				return true, nil
			}
		}
		return false, "none says so"
	})
	return lead
}

func running(s *server) bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// TestHAFailover: three replicas; every one answers the APIs (followers
// forward to the leader); the leader is killed with -9 right after it
// scaled the Deployment for a capacity change: a follower leads, adopts
// the pods and finishes the change on them (no orphan, none doubled), and
// invocations through a follower never fail; a leader frozen (SIGSTOP)
// inside a write transaction does not stop the control plane: calls made
// during the gap with default SDK retries succeed, and the frozen one,
// resumed, is fenced off and exits. A serverless variant's invocations
// through any replica are served by the leader's router.
func TestHAFailover(t *testing.T) {
	dsn := pgtest.Shared(t).Database(t)
	k, reps, _ := haReplicasOn(t, dsn, 3)
	first := leaderOf(t, reps, nil, 30*time.Second)
	t.Logf("replica %d leads", first)
	follower := reps[(first+1)%3]
	sm := follower.SageMaker()
	deploy(t, sm, "ha", kubeModel, 1)
	waitInService(t, sm, "ha")
	// Every replica routes invocations itself, and CloudWatch counts the
	// traffic of all of them.
	const perReplica = 20
	for i, r := range reps {
		waitCond(t, fmt.Sprintf("replica %d has the endpoint's routing table", i), func() bool { return promValue(t, r, "ebb_healthy_instances", "ha") > 0 })
	}
	for _, r := range reps {
		for range perReplica {
			invoke(t, r.Runtime(), "ha", "1,2,3")
		}
	}
	for i, r := range reps {
		if i != first {
			waitCond(t, fmt.Sprintf("follower %d routed its own invocations", i), func() bool { return promValue(t, r, "ebb_invocations_total", "ha") > 0 })
		}
	}
	sent := float64(len(reps) * perReplica)
	cw := follower.cloudWatchClients()["cbor"]
	waitCond(t, "Invocations and InvocationsPerInstance count every replica's traffic", func() bool {
		inv, per := sumOf(t, cw, "ha", "Invocations"), sumOf(t, cw, "ha", "InvocationsPerInstance")
		return inv == sent && per == sent
	})
	// A serverless variant's invocations are the leader's (one gate holds
	// its MaxConcurrency): every replica serves them, the followers by
	// handing them over, and each is counted once.
	deployServerless(t, sm, "ha-sl", "ha", 2)
	waitInService(t, sm, "ha-sl")
	for _, r := range reps {
		invoke(t, r.Runtime(), "ha-sl", "1,2,3")
	}
	waitCond(t, "the serverless variant's Invocations, once each", func() bool { return sumOf(t, cw, "ha-sl", "Invocations") == float64(len(reps)) })
	// A follower shows the leader's console, live pages included.
	for _, path := range []string{"/console/", "/console/endpoints/ha/live?once=1"} {
		resp, err := http.Get(follower.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ha") {
			t.Fatalf("GET %s on a follower: %d %s", path, resp.StatusCode, body)
		}
	}
	// Async inference would keep its objects on the leader's disk:
	// refused, naming the flag that makes it safe.
	_, err := sm.CreateEndpointConfig(context.Background(), &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("ha-async"),
		ProductionVariants: []smtypes.ProductionVariant{{VariantName: aws.String("v"), ModelName: aws.String("ha"),
			InstanceType: smtypes.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1)}},
		AsyncInferenceConfig: &smtypes.AsyncInferenceConfig{OutputConfig: &smtypes.AsyncInferenceOutputConfig{S3OutputPath: aws.String("s3://async/out")}}})
	if err == nil || !strings.Contains(err.Error(), "ValidationException") || !strings.Contains(err.Error(), "--s3-endpoint") {
		t.Fatalf("an async endpoint config on replicas without --s3-endpoint: %v", err)
	}
	stop := traffic(follower.Runtime(), "ha", 2)

	// Kill the leader right after it scaled the Deployment, before it
	// bound the new pods to instances.
	scaled := k.watchReplicas(t, 3)
	setCapacity(t, sm, "ha", "AllTraffic", 3)
	select {
	case <-scaled:
	case <-time.After(time.Minute):
		t.Fatal("the leader did not scale the Deployment to 3 replicas")
	}
	reps[first].Crash()
	killed := time.Now()
	skip := map[*server]bool{reps[first]: true}
	second := leaderOf(t, reps, skip, 30*time.Second)
	t.Logf("replica %d leads %v after the kill", second, time.Since(killed).Round(time.Millisecond))
	waitFor(t, sm, "ha", "the capacity change finished by the new leader", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == "InService" && *variantOf(o).CurrentInstanceCount == 3
	})
	waitCond(t, "exactly 3 pods and 3 replicas (the pods of the change in flight adopted, none orphaned or doubled)", func() bool {
		return len(k.pods(t)) == 3 && k.replicas(t) == 3
	})
	ok, failed, first_ := stop()
	t.Logf("%d requests through a follower across the failover, %d failed (first: %v)", ok, failed, first_)
	if failed > 0 {
		t.Errorf("%d invocations through a follower failed across the failover (first: %v)", failed, first_)
	}

	// Freeze the leader inside a write transaction: the fencing row held
	// FOR SHARE by a session with ebb's settings (as every write holds
	// it), then SIGSTOP. Control-plane calls through a follower, issued at
	// once with the SDK's default retries (SageMaker on awsJson, CloudWatch
	// on CBOR, the Go SDK's default), all succeed: held through the gap and
	// answered by the next leader, which fences while the frozen one stays
	// frozen. The frozen one, resumed, is fenced off and exits.
	frozen := reps[second]
	holdFencingRow(t, dsn)
	syscall.Kill(frozen.cmd.Process.Pid, syscall.SIGSTOP)
	frozenAt := time.Now()
	skip[frozen] = true
	var via *server
	for _, r := range reps {
		if !skip[r] {
			via = r
			break
		}
	}
	sdkSM := sagemaker.NewFromConfig(withSDKRetries(awsConfig("AKIDTEST", "secret")), func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(via.URL) })
	sdkCW := cloudwatch.NewFromConfig(withSDKRetries(awsConfig("AKIDTEST", "secret")), func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(via.URL) })
	gap := map[string]func() error{
		"DescribeEndpoint": func() error {
			_, err := sdkSM.DescribeEndpoint(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String("ha")})
			return err
		},
		"PutMetricData (CBOR)": func() error {
			_, err := sdkCW.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("Test/Gap"),
				MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("Calls"), Value: aws.Float64(1)}}})
			return err
		},
		"ListMetrics (CBOR)": func() error {
			_, err := sdkCW.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{Namespace: aws.String("AWS/SageMaker")})
			return err
		},
	}
	errs := make(chan error, len(gap))
	for name, call := range gap {
		go func() {
			t0 := time.Now()
			err := call()
			if err != nil {
				err = fmt.Errorf("%s during the gap: %w", name, err)
			}
			t.Logf("%s answered after %v", name, time.Since(t0).Round(time.Millisecond))
			errs <- err
		}()
	}
	third := leaderOf(t, reps, skip, 60*time.Second)
	for range gap {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	t.Logf("replica %d leads %v after the freeze, the frozen one still frozen", third, time.Since(frozenAt).Round(time.Millisecond))
	syscall.Kill(frozen.cmd.Process.Pid, syscall.SIGCONT)
	waitCond(t, "the resumed, deposed leader exits", func() bool { return !running(frozen) })
	t.Logf("the frozen one said:\n%s", lastLines(frozen.Log(), 3))
	invoke(t, reps[third].Runtime(), "ha", "1,2,3")
}

// holdFencingRow holds the fencing row FOR SHARE in an open transaction of
// a session with ebb's settings, as a leader frozen inside a write does,
// until the test ends (or PostgreSQL ends the transaction).
func holdFencingRow(t testing.TB, dsn string) {
	t.Helper()
	cc, err := postgres.ConnConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT epoch FROM leader_epoch WHERE id = 1 FOR SHARE"); err != nil {
		t.Fatal(err)
	}
}

// slowModel is an image whose pods take 300 ms per request.
const slowModel = "ebb.test/slow-model:v1"

// TestHAAsyncAcrossFailover: async requests accepted through a follower
// (queued durably by the leader in PostgreSQL, payloads in an external S3)
// all end with an output although the leader is killed with -9 while most
// of them wait: the new leader takes the queue over. One in flight on the
// killed leader may run twice (at least once, as documented); none is lost.
func TestHAAsyncAcrossFailover(t *testing.T) {
	s3srv := startServer(t, t.TempDir()) // an S3-compatible store the replicas share
	ctx := context.Background()
	if _, err := s3srv.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("async")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	_, reps, _ := haReplicas(t, 3, "--s3-endpoint", s3srv.URL)
	first := leaderOf(t, reps, nil, 30*time.Second)
	follower := reps[(first+1)%3]
	asyncConfig(t, follower.SageMaker(), "haa", slowModel, "")
	waitInService(t, follower.SageMaker(), "haa")
	const n = 30 // 30 x 300 ms at 2 concurrent: about 4.5 s of backlog
	var ids []string
	for i := range n {
		ids = append(ids, asyncInvoke(t, follower, "haa", fmt.Sprintf("%d,2,3", i), 0))
	}
	reps[first].Crash()
	killed := time.Now()
	skip := map[*server]bool{reps[first]: true}
	second := leaderOf(t, reps, skip, 15*time.Second)
	t.Logf("replica %d leads %v after the kill", second, time.Since(killed).Round(time.Millisecond))
	for _, id := range ids {
		waitObject(t, s3srv, "out/"+id+".out")
	}
	t.Logf("all %d accepted requests have their output %v after the kill", n, time.Since(killed).Round(time.Millisecond))
}

// TestHAScaleOutAcrossFailover: three replicas on one scaled clock, traffic
// through the two followers, a target-tracking policy; the leader is killed
// with -9 as soon as the policy's scale-out activity exists. The new leader
// takes the activity over: it ends Successful, once, never lost, doubled
// or failed; the pods are exactly the capacity; and
// Invocations over the test is the traffic the followers sent, each
// counted once although the leader taking their metrics in was killed.
func TestHAScaleOutAcrossFailover(t *testing.T) {
	epoch := time.Now().UTC().Format(time.RFC3339Nano)
	k, reps, _ := haReplicas(t, 3, "--time-scale", "60", "--time-scale-epoch", epoch)
	first := leaderOf(t, reps, nil, 30*time.Second)
	var followers []*server
	for i, r := range reps {
		if i != first {
			followers = append(followers, r)
		}
	}
	sm, as := followers[0].SageMaker(), followers[0].AutoScaling()
	ctx := context.Background()
	deploy(t, sm, "hs", kubeModel, 1)
	waitInService(t, sm, "hs")
	resource := aws.String("endpoint/hs/variant/AllTraffic")
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: resource, ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("invocations"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: resource, ScalableDimension: variantDim, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(5),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance}}}); err != nil {
		t.Fatal(err)
	}
	for i, r := range followers {
		waitCond(t, fmt.Sprintf("follower %d has the endpoint's routing table", i), func() bool { return promValue(t, r, "ebb_healthy_instances", "hs") > 0 })
	}
	var stops []func() (int64, int64, error)
	for _, r := range followers {
		stops = append(stops, traffic(r.Runtime(), "hs", 1))
	}
	activities := func() []aastypes.ScalingActivity {
		out, err := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: resource, ScalableDimension: variantDim})
		if err != nil {
			return nil // the leader may be gone for a moment
		}
		return out.ScalingActivities
	}
	var at aastypes.ScalingActivityStatusCode
	waitCond(t, "the policy starts a scale-out", func() bool {
		acts := activities()
		if len(acts) > 0 {
			at = acts[0].StatusCode
		}
		return len(acts) > 0
	})
	reps[first].Crash()
	killed := time.Now()
	t.Logf("the leader is killed with the activity %s", at)
	second := leaderOf(t, reps, map[*server]bool{reps[first]: true}, 15*time.Second)
	t.Logf("replica %d leads %v after the kill", second, time.Since(killed).Round(time.Millisecond))
	waitFor(t, sm, "hs", "the scale-out finished by the new leader", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).CurrentInstanceCount == 3 && o.EndpointStatus == "InService"
	})
	var sent, failed int64
	for _, stop := range stops {
		ok, bad, firstErr := stop()
		sent, failed = sent+ok, failed+bad
		if bad > 0 {
			t.Logf("%d invocations failed through a follower (first: %v)", bad, firstErr)
		}
	}
	waitCond(t, "every activity ended", func() bool {
		acts := activities()
		for _, a := range acts {
			if a.StatusCode != aastypes.ScalingActivityStatusCodeSuccessful && a.StatusCode != aastypes.ScalingActivityStatusCodeFailed {
				return false
			}
		}
		return len(acts) > 0
	})
	outs := 0
	for _, a := range activities() {
		t.Logf("%s | %s | %s | %s", a.StatusCode, aws.ToString(a.Description), aws.ToString(a.Cause), aws.ToString(a.StatusMessage))
		if a.StatusCode == aastypes.ScalingActivityStatusCodeFailed {
			t.Errorf("activity %s failed across the failover: %s", aws.ToString(a.ActivityId), aws.ToString(a.StatusMessage))
		}
		if strings.HasPrefix(aws.ToString(a.Description), "Setting desired instance count to") && strings.Contains(aws.ToString(a.Cause), "AlarmHigh") {
			outs++
		}
	}
	if outs < 1 || outs > 2 { // 1 -> 3 at once, or 1 -> 2 -> 3 when the first alarm saw one follower's traffic only
		t.Errorf("%d scale-out activities, want the one (or two) the alarm asked for", outs)
	}
	waitCond(t, "exactly 3 pods (adopted, none doubled)", func() bool { return len(k.pods(t)) == 3 })
	cw := followers[0].cloudWatchClients()["cbor"]
	// InvocationsPerInstance is each minute's Invocations over the minute's
	// instances: the whole traffic while there was one, less once there
	// were three.
	eventually(t, time.Minute, fmt.Sprintf("Invocations counts the %d invocations the followers sent (%d more failed)", sent, failed), func() (bool, any) {
		inv, per := sumOf(t, cw, "hs", "Invocations"), sumOf(t, cw, "hs", "InvocationsPerInstance")
		return inv >= float64(sent) && inv <= float64(sent+failed) && per <= inv && per >= inv/3, fmt.Sprintf("Invocations %v, InvocationsPerInstance %v", inv, per)
	})
	t.Logf("%d invocations through the followers (%d failed), all counted", sent, failed)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// promValue sums a metric a replica's /metrics reports for an endpoint
// (ebb_invocations_total: the invocations its own router sent to a model;
// ebb_healthy_instances: the instances its routing table holds).
func promValue(t testing.TB, s *server, metric, endpoint string) float64 {
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var n float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, metric+"{") && strings.Contains(line, `endpoint="`+endpoint+`"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += v
		}
	}
	return n
}

// sumOf is the Sum of an endpoint metric (variant AllTraffic) from an hour
// ago to a day ahead (servers on --time-scale run ahead of the wall clock).
func sumOf(t testing.TB, cw *cloudwatch.Client, endpoint, name string) float64 {
	now := time.Now()
	out, err := cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String(name),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String(endpoint)}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
		StartTime:  aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(24 * time.Hour)), Period: aws.Int32(3600),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, dp := range out.Datapoints {
		sum += *dp.Sum
	}
	return sum
}

// TestHAPutMetricDataAcrossPostgresOutage: CloudWatch clients on CBOR with
// the SDK's default retries put datapoints through a follower while
// PostgreSQL goes down and comes back. A call answered 503 stored nothing,
// so each retry counts once: the stored SampleCount is exactly the number
// of calls acknowledged (and calls that failed for good stored nothing).
func TestHAPutMetricDataAcrossPostgresOutage(t *testing.T) {
	pg := pgtest.Start(t)
	_, reps, _ := haReplicasOn(t, pg.Database(t), 2)
	lead := leaderOf(t, reps, nil, 30*time.Second)
	via := reps[1-lead]
	var unavailable atomic.Int64 // 503 answers the clients saw, retries included
	cfg := withSDKRetries(awsConfig("AKIDTEST", "secret"))
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
			unavailable.Add(1)
		}
		return resp, err
	})}
	cw := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(via.URL) })
	start := time.Now().Add(-time.Minute)
	stop, acked := calls(4, func() error {
		_, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("Test/Outage"),
			MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("Calls"), Value: aws.Float64(1)}}})
		return err
	})
	waitCond(t, "some puts acknowledged before the outage", func() bool { return acked() >= 50 })
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the outage answered 503s", func() bool { return unavailable.Load() >= 20 })
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	before := acked()
	waitCond(t, "puts acknowledged again after the outage", func() bool { return acked() >= before+50 })
	ok, failed, _ := stop()
	var count float64
	waitCond(t, "GetMetricStatistics answers", func() bool {
		out, err := cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Test/Outage"),
			MetricName: aws.String("Calls"), StartTime: aws.Time(start), EndTime: aws.Time(time.Now().Add(time.Minute)), Period: aws.Int32(3600),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticSampleCount}})
		if err != nil {
			return false
		}
		count = 0
		for _, dp := range out.Datapoints {
			count += *dp.SampleCount
		}
		return true
	})
	t.Logf("%d puts acknowledged, %d failed after the SDK's retries, %d answers were 503; %v datapoints stored", ok, failed, unavailable.Load(), count)
	if count != float64(ok) {
		t.Fatalf("%v datapoints stored for %d acknowledged puts", count, ok)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
