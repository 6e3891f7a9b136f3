package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// demoConfig is ebb demo's configuration.
type demoConfig struct {
	TimeScale float64
	Peak      int
	Keep      bool
	Data      string
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := demoConfig{TimeScale: 30, Peak: 60}
	fs := newFlags("demo", "Start ebb with a fast clock, deploy an endpoint running the example model, put the\n"+
		"SageMaker autoscaling policies of the AWS blog on it, drive a traffic ramp up and down, and show\n"+
		"instances, metrics, alarms and scaling activities live. Takes about 80 seconds (a first `go run`\n"+
		"on a fresh clone compiles ebb before that: several minutes).", stderr)
	fs.Float64Var(&d.TimeScale, "time-scale", d.TimeScale, "how many times faster than real time the demo's clock runs")
	fs.IntVar(&d.Peak, "peak", d.Peak, "peak traffic in requests per second")
	fs.BoolVar(&d.Keep, "keep", d.Keep, "keep the server running after the demo, to explore it with boto3 or the AWS CLI")
	fs.StringVar(&d.Data, "data", "", "data directory (default: a temporary one, removed afterwards unless --keep)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if d.TimeScale <= 0 || d.Peak <= 0 {
		return usageError{errors.New("--time-scale and --peak must be positive")}
	}
	return demo(ctx, d, stdout)
}

func demo(ctx context.Context, d demoConfig, out io.Writer) error {
	dir := d.Data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ebb-demo-")
		if err != nil {
			return err
		}
		dir = tmp
		// Instances may run as another user (ebb as root runs them as
		// nobody), who must be able to enter it.
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		if !d.Keep {
			defer os.RemoveAll(dir)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(dir + "/server.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	c := defaultServerConfig()
	c.Listen, c.Data, c.TimeScale = "127.0.0.1:0", dir, d.TimeScale
	srvCtx, stopServer := context.WithCancel(context.Background())
	serverStart := time.Now()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(srvCtx, c, slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo})), ready)
	}()
	defer func() {
		fmt.Fprintln(out, "stopping the server and its instances ...")
		stopServer()
		<-done
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		return fmt.Errorf("server: %w", err)
	}
	url = "http://" + url
	fmt.Fprintf(out, "ebb is serving on %s (clock %gx faster; server log: %s/server.log)\n", url, d.TimeScale, dir)
	fmt.Fprintf(out, "watch it scale in the console: %s/console/endpoints/demo\n\n", url)

	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("demo", "demo", ""),
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	sm := sagemaker.NewFromConfig(cfg, func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(url) })
	rt := sagemakerruntime.NewFromConfig(cfg, func(o *sagemakerruntime.Options) { o.BaseEndpoint = aws.String(url) })
	as := aas.NewFromConfig(cfg, func(o *aas.Options) { o.BaseEndpoint = aws.String(url) })
	cw := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(url) })
	step := func(msg string) { fmt.Fprintf(out, "• %s\n", msg) }

	step("CreateModel demo-model (image \"ebb example-model --work-ms 8\"), CreateEndpointConfig, CreateEndpoint demo")
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("demo-model"),
		PrimaryContainer: &smtypes.ContainerDefinition{Image: aws.String("ebb example-model --work-ms 8")}}); err != nil {
		return err
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("demo-config"),
		ProductionVariants: []smtypes.ProductionVariant{{VariantName: aws.String("AllTraffic"), ModelName: aws.String("demo-model"),
			InstanceType: smtypes.ProductionVariantInstanceTypeMlC5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
		return err
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("demo"), EndpointConfigName: aws.String("demo-config")}); err != nil {
		return err
	}
	w := sagemaker.NewEndpointInServiceWaiter(sm, func(o *sagemaker.EndpointInServiceWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("demo")}, 5*time.Minute); err != nil {
		return err
	}
	step("endpoint demo is InService with 1 instance")
	resource := aws.String("endpoint/demo/variant/AllTraffic")
	dim := aastypes.ScalableDimensionSageMakerVariantDesiredInstanceCount
	ns := aastypes.ServiceNamespaceSagemaker
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: resource, ScalableDimension: dim,
		MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4)}); err != nil {
		return err
	}
	// InvocationsPerInstance counts per minute of the demo's clock: the peak
	// should need three instances.
	target := math.Max(1, math.Round(float64(d.Peak)*60/d.TimeScale/3))
	if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("invocations"), ServiceNamespace: ns, ResourceId: resource, ScalableDimension: dim,
		PolicyType: aastypes.PolicyTypeTargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue: aws.Float64(target), ScaleInCooldown: aws.Int32(300), ScaleOutCooldown: aws.Int32(60),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance}}}); err != nil {
		return err
	}
	if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("cpu"), ServiceNamespace: ns, ResourceId: resource, ScalableDimension: dim,
		PolicyType: aastypes.PolicyTypeTargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue: aws.Float64(50), ScaleInCooldown: aws.Int32(300), ScaleOutCooldown: aws.Int32(300),
			CustomizedMetricSpecification: &aastypes.CustomizedMetricSpecification{MetricName: aws.String("CPUUtilization"), Namespace: aws.String("/aws/sagemaker/Endpoints"),
				Statistic: aastypes.MetricStatisticAverage, Dimensions: []aastypes.MetricDimension{{Name: aws.String("EndpointName"), Value: aws.String("demo")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}}}}); err != nil {
		return err
	}
	step(fmt.Sprintf("RegisterScalableTarget 1..4; target tracking on InvocationsPerInstance (target %g per minute) and on CPUUtilization (50%%)", target))
	fmt.Fprintf(out, "\ntraffic ramps up to %d requests/s, holds, then stops; times are the demo clock's\n\n", d.Peak)

	// The traffic ramp, in real seconds: 0 -> peak over 20 s, hold 25 s, stop.
	var rate atomic.Int64
	var sent, failed atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	// A pacer spaces the requests evenly at the current rate, and 24
	// workers send them. (Workers pacing themselves fired in step, a burst
	// each real second, and a demo minute of two real seconds held one, two
	// or three bursts: InvocationsPerInstance jumped between 24, 48 and 72.)
	tokens := make(chan struct{})
	go func() {
		next := time.Now()
		for loadCtx.Err() == nil {
			r := rate.Load()
			if r <= 0 {
				time.Sleep(50 * time.Millisecond) // idle between ramp steps
				next = time.Now()
				continue
			}
			next = next.Add(time.Second / time.Duration(r))
			if lag := time.Since(next); lag > time.Second {
				next = time.Now() // the workers fell behind: no catch-up burst
			}
			time.Sleep(time.Until(next))
			select {
			case tokens <- struct{}{}:
			case <-loadCtx.Done():
			}
		}
	}()
	var wg sync.WaitGroup
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-loadCtx.Done():
					return
				case <-tokens:
				}
				_, err := rt.InvokeEndpoint(loadCtx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("demo"), Body: []byte("0.5,1.5,2.5"), ContentType: aws.String("text/csv")})
				if loadCtx.Err() != nil {
					return
				}
				sent.Add(1)
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	began := time.Now()
	scaled := func(d time.Duration) string {
		s := time.Duration(float64(d) * c.TimeScale).Round(time.Second)
		return fmt.Sprintf("%02d:%02d", int(s.Minutes()), int(s.Seconds())%60)
	}
	seen := map[string]bool{}
	peak, scaleOutAt, loadStoppedAt, scaledInAt := 1, time.Duration(0), time.Duration(0), time.Duration(0)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "\ninterrupted")
			return nil
		case <-tick.C:
		}
		el := time.Since(began)
		switch {
		case el < 20*time.Second:
			rate.Store(int64(math.Ceil(float64(d.Peak) * el.Seconds() / 20)))
		case el < 45*time.Second:
			rate.Store(int64(d.Peak))
		default:
			if rate.Swap(0) > 0 {
				loadStoppedAt = el
			}
		}
		ep, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("demo")})
		if err != nil {
			return err
		}
		v := ep.ProductionVariants[0]
		cur, want := aws.ToInt32(v.CurrentInstanceCount), aws.ToInt32(v.DesiredInstanceCount)
		peak = max(peak, int(cur))
		// The server's clock runs TimeScale times faster since it started.
		demoNow := serverStart.Add(time.Duration(float64(time.Since(serverStart)) * d.TimeScale))
		inv := latest(ctx, cw, demoNow, "AWS/SageMaker", "InvocationsPerInstance", cwtypes.StatisticSum)
		cpu := latest(ctx, cw, demoNow, "/aws/sagemaker/Endpoints", "CPUUtilization", cwtypes.StatisticAverage)
		alarms, _ := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("TargetTracking-endpoint/demo/")})
		var states []string
		for _, a := range alarms.MetricAlarms {
			kind := "Low"
			if strings.Contains(aws.ToString(a.AlarmName), "AlarmHigh") {
				kind = "High"
			}
			metric := "inv"
			if aws.ToString(a.MetricName) == "CPUUtilization" {
				metric = "cpu"
			}
			states = append(states, fmt.Sprintf("%s%s=%s", metric, kind, shortState(a.StateValue)))
		}
		fmt.Fprintf(out, "[%s] %-9s instances %d/%d  %-14s %-10s  traffic %3d req/s  alarms %s\n", scaled(el), ep.EndpointStatus, cur, want,
			fmt.Sprintf("inv/inst %s", inv), fmt.Sprintf("CPU %s", cpu), rate.Load(), strings.Join(states, " "))
		acts, _ := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: ns, ResourceId: resource})
		settled := true // no activity still on its way (the scale-in is printed before the summary)
		for i := len(acts.ScalingActivities) - 1; i >= 0; i-- {
			a := acts.ScalingActivities[i]
			if a.StatusCode == aastypes.ScalingActivityStatusCodePending || a.StatusCode == aastypes.ScalingActivityStatusCodeInProgress {
				settled = false
			}
			key := aws.ToString(a.ActivityId) + string(a.StatusCode)
			if seen[key] || a.StatusCode != aastypes.ScalingActivityStatusCodeSuccessful {
				continue
			}
			seen[key] = true
			fmt.Fprintf(out, "          ↳ %s: %s (%s)\n", a.StatusCode, aws.ToString(a.Description), aws.ToString(a.Cause))
			if scaleOutAt == 0 && strings.Contains(aws.ToString(a.Cause), "AlarmHigh") {
				scaleOutAt = el
			}
		}
		if loadStoppedAt > 0 && cur == 1 && want == 1 && peak > 1 && settled && scaledInAt == 0 {
			scaledInAt = el
			break
		}
		if el > 5*time.Minute {
			fmt.Fprintln(out, "the endpoint did not scale back in within five minutes; see the server log")
			break
		}
	}
	stopLoad()
	wg.Wait()
	fmt.Fprintf(out, "\nsummary: peak %d instances; scale-out %s after the traffic started; scale-in %s after it stopped; %d requests, %d failed\n",
		peak, scaled(scaleOutAt), scaled(scaledInAt-loadStoppedAt), sent.Load(), failed.Load())
	if d.Keep {
		fmt.Fprintf(out, "\nthe server keeps running: try\n  aws --endpoint-url %s sagemaker describe-endpoint --endpoint-name demo\n  aws --endpoint-url %s application-autoscaling describe-scaling-activities --service-namespace sagemaker\nPress Ctrl-C to stop.\n", url, url)
		<-ctx.Done()
	}
	return nil
}

// latest reads the newest complete minute of a metric of the demo endpoint.
func latest(ctx context.Context, cw *cloudwatch.Client, now time.Time, ns, name string, stat cwtypes.Statistic) string {
	out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String(ns), MetricName: aws.String(name),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("demo")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
		StartTime:  aws.Time(now.Add(-5 * time.Minute)), EndTime: aws.Time(now.Add(time.Minute)), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{stat}})
	if err != nil || len(out.Datapoints) < 2 {
		return "-"
	}
	// The newest complete minute.
	dps := out.Datapoints
	newest := 0
	for i := range dps {
		if dps[i].Timestamp.After(*dps[newest].Timestamp) {
			newest = i
		}
	}
	second := -1
	for i := range dps {
		if i != newest && (second < 0 || dps[i].Timestamp.After(*dps[second].Timestamp)) {
			second = i
		}
	}
	dp := dps[second]
	v := 0.0
	if dp.Sum != nil {
		v = *dp.Sum
	} else if dp.Average != nil {
		v = *dp.Average
	}
	return fmt.Sprintf("%.0f", v)
}

func shortState(s cwtypes.StateValue) string {
	switch s {
	case cwtypes.StateValueAlarm:
		return "ALARM"
	case cwtypes.StateValueOk:
		return "ok"
	}
	return "-"
}
