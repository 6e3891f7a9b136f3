package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ebbscale/ebb/internal/loadtest"
)

// loadtestConfig is ebb loadtest's configuration.
type loadtestConfig struct {
	Endpoint, EndpointURL, Region, Variant string
	Payload, ContentType                   string
	P99                                    time.Duration
	MaxErrorRate                           string
	Opts                                   loadtest.Options
	JSON                                   bool
	Plot                                   string
}

func runLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := loadtestConfig{ContentType: "text/csv", P99: 300 * time.Millisecond, MaxErrorRate: "0.1%", Region: os.Getenv("AWS_REGION"),
		Opts: loadtest.Options{StartRPS: 5, Growth: 1.5, StepDuration: 10 * time.Second, MaxRPS: 20000, Refine: 4}}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	fs := newFlags("loadtest", "Ramp open-loop load on an endpoint (ideally of one instance) until its latency SLO breaks, find the\n"+
		"sustainable maximum, and recommend the numbers of a scaling policy: the TargetValue of\n"+
		"SageMakerVariantInvocationsPerInstance by AWS's formula (MAX_RPS x 0.5 x 60) and from the knee of the\n"+
		"latency curve, a concurrency target, a CPU target, cooldowns, and the put_scaling_policy JSON.\n"+
		"Works against ebb (--endpoint-url) or SageMaker itself (the SDK's standard credential chain).", stderr)
	fs.StringVar(&c.Endpoint, "endpoint", "", "the endpoint to load (required)")
	fs.StringVar(&c.EndpointURL, "endpoint-url", "", "ebb's URL, e.g. http://127.0.0.1:8080 (default: AWS)")
	fs.StringVar(&c.Region, "region", c.Region, "the region ($AWS_REGION if set)")
	fs.StringVar(&c.Variant, "variant", "", "the variant the policy is for (default: the endpoint's first)")
	fs.StringVar(&c.Payload, "payload", "", "file whose content is every request's body (default: the CSV row 1,2,3)")
	fs.StringVar(&c.ContentType, "content-type", c.ContentType, "the requests' Content-Type")
	fs.DurationVar(&c.P99, "p99", c.P99, "the latency SLO: a load is sustainable while its p99 stays within it")
	fs.StringVar(&c.MaxErrorRate, "max-error-rate", c.MaxErrorRate, "the error SLO, a percentage (0.1%) or a fraction (0.001)")
	fs.Float64Var(&c.Opts.StartRPS, "start-rps", c.Opts.StartRPS, "the first step's requests per second")
	fs.Float64Var(&c.Opts.Growth, "growth", c.Opts.Growth, "each step offers this many times the last one's load")
	fs.DurationVar(&c.Opts.StepDuration, "step", c.Opts.StepDuration, "how long each step lasts")
	fs.Float64Var(&c.Opts.MaxRPS, "max-rps", c.Opts.MaxRPS, "the ramp stops here even if the SLO holds")
	fs.IntVar(&c.Opts.Refine, "refine", c.Opts.Refine, "bisection steps between the last sustainable load and the first that was not")
	fs.BoolVar(&c.JSON, "json", false, "print the steps and the recommendation as JSON")
	fs.StringVar(&c.Plot, "plot", "loadtest-ENDPOINT", "write the latency plot to this path with .png, and a report with it to .html (empty: none)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.Endpoint == "" {
		return usageError{errors.New("--endpoint is required")}
	}
	rate, err := parseRate(c.MaxErrorRate)
	if err != nil {
		return usageError{fmt.Errorf("--max-error-rate: %w", err)}
	}
	if c.P99 <= 0 || c.Opts.StartRPS <= 0 || c.Opts.Growth <= 1 || c.Opts.StepDuration <= 0 {
		return usageError{errors.New("--p99, --start-rps and --step must be positive and --growth above 1")}
	}
	c.Opts.P99, c.Opts.MaxErrorRate = c.P99, rate
	c.Plot = strings.ReplaceAll(c.Plot, "ENDPOINT", c.Endpoint)
	return loadtestRun(ctx, c, stdout, stderr)
}

// isTerminal reports whether w is a terminal (a progress bar is drawn there
// only).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// parseRate reads "0.1%" or "0.001".
func parseRate(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a rate", s)
	}
	if pct {
		v /= 100
	}
	if v > 1 {
		return 0, fmt.Errorf("%q is more than 100%%", s)
	}
	return v, nil
}

func loadtestRun(ctx context.Context, c loadtestConfig, stdout, stderr io.Writer) error {
	body := []byte("1,2,3")
	if c.Payload != "" {
		b, err := os.ReadFile(c.Payload)
		if err != nil {
			return usageError{fmt.Errorf("--payload: %w", err)}
		}
		body = b
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(c.Region))
	if err != nil {
		return err
	}
	if c.EndpointURL != "" {
		cfg.BaseEndpoint = aws.String(c.EndpointURL)
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			// ebb without --credentials takes any signature (and asking the
			// instance metadata service would only delay and warn).
			cfg.Credentials = credentials.NewStaticCredentialsProvider("ebb", "ebb", "")
		}
	}
	sm, rt, cw := sagemaker.NewFromConfig(cfg), sagemakerruntime.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg)

	m := loadtest.Measured{Instances: 1}
	if ep, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String(c.Endpoint)}); err != nil {
		fmt.Fprintf(stderr, "ebb loadtest: could not describe endpoint %s (%v); assuming one instance\n", c.Endpoint, err)
	} else if len(ep.ProductionVariants) > 0 {
		m.Instances = 0
		for _, v := range ep.ProductionVariants {
			m.Instances += int(aws.ToInt32(v.CurrentInstanceCount))
		}
		if c.Variant == "" {
			c.Variant = aws.ToString(ep.ProductionVariants[0].VariantName)
		}
		if m.Instances > 1 {
			fmt.Fprintf(stderr, "ebb loadtest: endpoint %s has %d instances; the figures are divided among them (one instance measures best)\n", c.Endpoint, m.Instances)
		}
		m.Instances = max(1, m.Instances)
	}
	if c.Variant == "" {
		c.Variant = "AllTraffic"
	}
	inv := func(ctx context.Context) error {
		_, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String(c.Endpoint), Body: body, ContentType: aws.String(c.ContentType)})
		return err
	}
	// A bar while a step runs, on a terminal; a line when it ends.
	stopBar := func() {}
	c.Opts.StepStarted = func(rps float64) {
		bar := progressbar.NewOptions64(c.Opts.StepDuration.Milliseconds(), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(fmt.Sprintf("%8.1f req/s offered", rps)), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetVisibility(isTerminal(stderr)), progressbar.OptionThrottle(100*time.Millisecond))
		start, done, exited := time.Now(), make(chan struct{}), make(chan struct{})
		go func() {
			defer close(exited)
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					bar.Set64(time.Since(start).Milliseconds())
				}
			}
		}()
		stopBar = func() { close(done); <-exited; bar.Finish() }
	}
	c.Opts.Progress = func(s loadtest.Step) {
		stopBar()
		mark := "ok"
		if !s.Sustainable {
			mark = "beyond the SLO"
		}
		fmt.Fprintf(stderr, "%8.1f req/s offered: %8.1f answered/s, p50 %v, p99 %v, errors %.2f%%  %s\n",
			s.OfferedRPS, s.AchievedRPS, s.P50.Round(time.Microsecond*100), s.P99.Round(time.Microsecond*100), 100*s.ErrorRate, mark)
	}
	fmt.Fprintf(stderr, "ebb loadtest: ramping endpoint %s from %g req/s, %v per step, SLO p99 %v and %s errors\n", c.Endpoint, c.Opts.StartRPS, c.Opts.StepDuration, c.P99, c.MaxErrorRate)
	res, err := loadtest.Run(ctx, inv, c.Opts)
	if err != nil {
		return err
	}
	m.CPUAtKnee = average(ctx, cw, "/aws/sagemaker/Endpoints", "CPUUtilization", c.Endpoint, c.Variant, res.Knee.Start, res.Knee.End)
	if ms := maximum(ctx, cw, "ebb/ColdStart", "InstanceStartupTime", c.Endpoint, c.Variant); ms > 0 {
		m.Startup = time.Duration(ms * float64(time.Millisecond))
	}
	rec := loadtest.Recommend(res, m)
	policy := rec.Policy(c.Endpoint, c.Variant)
	if c.Plot != "" {
		if err := writePlot(c, res, rec, policy); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "ebb loadtest: wrote %s.png and %s.html\n", c.Plot, c.Plot)
	}
	if c.JSON {
		steps := make([]map[string]any, len(res.Steps))
		for i, s := range res.Steps {
			steps[i] = map[string]any{"offered_rps": s.OfferedRPS, "achieved_rps": s.AchievedRPS, "requests": s.Requests, "errors": s.Errors, "p50_ms": loadtest.Millis(s.P50), "p90_ms": loadtest.Millis(s.P90),
				"p99_ms": loadtest.Millis(s.P99), "error_rate": s.ErrorRate, "sustainable": s.Sustainable}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"endpoint": c.Endpoint, "variant": c.Variant, "instances": m.Instances, "steps": steps,
			"recommendation": rec, "startup_seconds": m.Startup.Seconds(), "policy": policy})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nmax sustainable load\t%.1f req/s per instance (p99 %v)\n", rec.MaxRPSPerInstance, res.Max.P99.Round(time.Millisecond))
	fmt.Fprintf(tw, "knee of the latency curve\t%.1f req/s per instance (p99 %v)\n", rec.KneeRPSPerInstance, res.Knee.P99.Round(time.Millisecond))
	fmt.Fprintf(tw, "InvocationsPerInstance target, AWS formula\t%.0f  (max x 0.5 x 60)\n", rec.AWSFormulaTarget)
	fmt.Fprintf(tw, "InvocationsPerInstance target, ebb\t%.0f  (the knee's rate x 60)\n", rec.KneeTarget)
	fmt.Fprintf(tw, "ConcurrentRequestsPerModel target\t%.1f  (in flight per instance at the knee)\n", rec.ConcurrencyTarget)
	if rec.CPUTarget > 0 {
		fmt.Fprintf(tw, "CPUUtilization target\t%.1f  (at the knee)\n", rec.CPUTarget)
	} else {
		fmt.Fprintf(tw, "CPUUtilization target\tnot measured (no CPUUtilization datapoints for the knee's step)\n")
	}
	startup := "not measured (AWS's 300 s scale-in)"
	if m.Startup > 0 {
		startup = "from an instance startup of " + m.Startup.Round(100*time.Millisecond).String()
	}
	fmt.Fprintf(tw, "cooldowns\tscale-out %d s, scale-in %d s, %s\n", rec.ScaleOutCooldown, rec.ScaleInCooldown, startup)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nput_scaling_policy arguments:")
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(policy)
}

// writePlot writes the latency plot (PNG) and the HTML report.
func writePlot(c loadtestConfig, res loadtest.Result, rec loadtest.Recommendation, policy map[string]any) error {
	png, svg, err := loadtest.Plot(res, c.P99)
	if err != nil {
		return err
	}
	js, _ := json.MarshalIndent(policy, "", "  ")
	page, err := loadtest.HTML(loadtest.Report{Endpoint: c.Endpoint, SLO: c.P99, ErrorRate: c.MaxErrorRate, Result: res, Rec: rec, Policy: string(js)}, svg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.Plot+".png", png, 0o644); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return os.WriteFile(c.Plot+".html", page, 0o644)
}

// average reads a metric's average over [start, end]: in 10-second periods
// where the metric has them (ebb samples instances every 10 s), else over
// the minutes around it (0: no datapoints).
func average(ctx context.Context, cw *cloudwatch.Client, ns, name, endpoint, variant string, start, end time.Time) float64 {
	if v := stat(ctx, cw, ns, name, endpoint, variant, start, end, 10, cwtypes.StatisticAverage); v > 0 {
		return v
	}
	return stat(ctx, cw, ns, name, endpoint, variant, start.Truncate(time.Minute), end.Add(time.Minute), 60, cwtypes.StatisticAverage)
}

// maximum reads a metric's maximum over the last day (0: no datapoints).
func maximum(ctx context.Context, cw *cloudwatch.Client, ns, name, endpoint, variant string) float64 {
	now := time.Now()
	return stat(ctx, cw, ns, name, endpoint, variant, now.Add(-24*time.Hour), now, 86400, cwtypes.StatisticMaximum)
}

// stat reads a statistic of an endpoint variant's metric: the mean of the
// periods' averages, or the largest maximum.
func stat(ctx context.Context, cw *cloudwatch.Client, ns, name, endpoint, variant string, start, end time.Time, period int32, st cwtypes.Statistic) float64 {
	out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String(ns), MetricName: aws.String(name),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String(endpoint)}, {Name: aws.String("VariantName"), Value: aws.String(variant)}},
		StartTime:  aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(period), Statistics: []cwtypes.Statistic{st}})
	if err != nil || len(out.Datapoints) == 0 {
		return 0
	}
	sum, best := 0.0, 0.0
	for _, d := range out.Datapoints {
		sum += aws.ToFloat64(d.Average)
		best = max(best, aws.ToFloat64(d.Maximum))
	}
	if st == cwtypes.StatisticMaximum {
		return best
	}
	return sum / float64(len(out.Datapoints))
}
