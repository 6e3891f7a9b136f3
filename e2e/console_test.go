package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium from Debian's package, started as
// NOTES.md says (a fresh profile, no outside network), with every
// JavaScript error and console error its pages report collected.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (.ci/run installs Debian's chromium)")
		}
		t.Skip("no chromium: apt-get install chromium")
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true)}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx) // starts the browser
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); cancelAlloc(); <-done })
	if _, err := chromedp.Run(ctx, chromedp.Title()); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// run runs browser actions within d.
func (b *browser) run(t testing.TB, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// get runs one browser action that returns a value, within 30 s.
func get[T any](t testing.TB, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// screenshot saves the whole page into dir and logs where.
func (b *browser) screenshot(t testing.TB, dir, name string) {
	t.Helper()
	png := get(t, b, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// screenshotDir is where a test's screenshots go: its temporary directory,
// or $EBB_CONSOLE_SCREENSHOTS, kept to be looked at (and for the README).
func screenshotDir(t testing.TB) string {
	if dir := os.Getenv("EBB_CONSOLE_SCREENSHOTS"); dir != "" {
		return dir
	}
	return t.TempDir()
}

// noErrors fails the test on any JavaScript error the pages reported.
func (b *browser) noErrors(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Fatalf("the browser reported errors:\n%s", strings.Join(b.errors, "\n"))
	}
}

// forget drops the errors reported so far (a step that meant to fail).
func (b *browser) forget() {
	b.mu.Lock()
	b.errors = nil
	b.mu.Unlock()
}

// waitJS waits until a JavaScript condition holds in the page, polled in
// the page every 20 ms (a condition that throws counts as false; a poll
// that a navigation ends starts again in the new page).
func (b *browser) waitJS(t testing.TB, d time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for left := d; left > 0; left = time.Until(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, left+5*time.Second)
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(() => { try { return !!(`+expr+`) } catch (e) { return false } })()`,
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(left)))
		cancel()
		if err == nil || errors.Is(err, chromedp.ErrPollingTimeout) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML("main"))
		b.mu.Lock()
		errs := strings.Join(b.errors, "\n")
		b.mu.Unlock()
		t.Fatalf("the page did not show %s within %v (%v); browser errors:\n%s\npage:\n%s", what, d, err, errs, html)
	}
}

// tracking registers a scalable target of min to max and puts a target-
// tracking policy on it: a predefined metric at a target value, scaling
// out after a minute and in after five.
func tracking(t testing.TB, as *aas.Client, resource string, dim aastypes.ScalableDimension, min, max int32, policy string, metric aastypes.MetricType, target float64) {
	t.Helper()
	ctx := context.Background()
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: aws.String(resource),
		ScalableDimension: dim, MinCapacity: aws.Int32(min), MaxCapacity: aws.Int32(max)}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String(policy), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: aws.String(resource), ScalableDimension: dim, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(target),
			ScaleOutCooldown: aws.Int32(60), ScaleInCooldown: aws.Int32(300),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: metric}}}); err != nil {
		t.Fatal(err)
	}
}

// TestConsole deploys an endpoint with a target-tracking policy, opens its
// console page in Chromium, drives load, and waits until the page itself
// shows the scale-out: the instances chart's data and the timeline with
// the activity and its cause (the policy's high alarm). Then the other
// pages: endpoints (filtered), instance logs, a simulation report. Every
// page is screenshotted into the test's directory (or
// $EBB_CONSOLE_SCREENSHOTS, kept); no JavaScript errors.
func TestConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a browser and a live scale-out")
	}
	b := newBrowser(t)
	shots := screenshotDir(t)
	s := startServer(t, t.TempDir(), "--time-scale", "60")
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	ctx := context.Background()
	deploy(t, sm, "shop", "ebb example-model --work-ms 2", 1)
	deploy(t, sm, "search", "ebb example-model --work-ms 2", 1)
	waitInService(t, sm, "shop")
	waitInService(t, sm, "search")
	id := aws.String("endpoint/shop/variant/AllTraffic")
	tracking(t, as, *id, variantDim, 1, 3, "invocations", aastypes.MetricTypeSageMakerVariantInvocationsPerInstance, 50)
	if _, err := as.PutScheduledAction(ctx, &aas.PutScheduledActionInput{ScheduledActionName: aws.String("nightly"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: id, ScalableDimension: variantDim, Schedule: aws.String("cron(0 2 * * ? *)"),
		ScalableTargetAction: &aastypes.ScalableTargetAction{MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(3)}}); err != nil {
		t.Fatal(err)
	}

	// A step policy on the other endpoint, run by an alarm of its own.
	searchID := aws.String("endpoint/search/variant/AllTraffic")
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: searchID,
		ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	stepPolicy, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("steps"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: searchID, ScalableDimension: variantDim, PolicyType: aastypes.PolicyTypeStepScaling,
		StepScalingPolicyConfiguration: &aastypes.StepScalingPolicyConfiguration{AdjustmentType: aastypes.AdjustmentTypeChangeInCapacity, Cooldown: aws.Int32(60),
			MetricAggregationType: aastypes.MetricAggregationTypeAverage, StepAdjustments: []aastypes.StepAdjustment{
				{MetricIntervalLowerBound: aws.Float64(0), MetricIntervalUpperBound: aws.Float64(500), ScalingAdjustment: aws.Int32(1)},
				{MetricIntervalLowerBound: aws.Float64(500), ScalingAdjustment: aws.Int32(2)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.cloudWatchClients()["cbor"].PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("search-busy"),
		Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String("Invocations"), Statistic: cwtypes.StatisticSum, Period: aws.Int32(60),
		Dimensions:        []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("search")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
		EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1000), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		AlarmActions: []string{aws.ToString(stepPolicy.PolicyARN)}}); err != nil {
		t.Fatal(err)
	}

	// The endpoints page, filtered as one types.
	b.run(t, 30*time.Second, chromedp.Navigate(s.URL+"/console/"), chromedp.WaitVisible(`#endpoints`))
	b.waitJS(t, 10*time.Second, "both endpoints", `document.querySelectorAll("#endpoints tbody tr").length === 2 && document.querySelector('#endpoints tr[data-name="shop"]').textContent.includes("invocations")`)
	b.screenshot(t, shots, "endpoints")
	b.run(t, 10*time.Second, chromedp.SendKeys(`#filter`, "sho"))
	b.waitJS(t, 5*time.Second, "the filter", `document.querySelector('tr[data-name="search"]').hidden && !document.querySelector('tr[data-name="shop"]').hidden`)

	// The endpoint page, live.
	b.run(t, 30*time.Second, chromedp.Navigate(s.URL+"/console/endpoints/shop"), chromedp.WaitVisible(`#chart-instances`))
	b.waitJS(t, 20*time.Second, "the policy's chart with its target and alarm thresholds",
		`!!document.querySelector('[id="chart-policy-AllTraffic-invocations"]') && document.querySelectorAll("#alarms tbody tr").length === 2`)
	stop := traffic(rt, "shop", 4)
	b.waitJS(t, 90*time.Second, "the scale-out in the instances chart and the timeline with its cause", `(() => {
		const desired = JSON.parse(document.getElementById("chart-instances").dataset.summary || "[]").find(s => s.label === "desired");
		const out = [...document.querySelectorAll("#timeline li.event-scaling")].find(li =>
			/Setting desired instance count to [23]/.test(li.textContent) && li.textContent.includes("AlarmHigh"));
		const alarm = [...document.querySelectorAll("#timeline li.event-alarm")].some(li => li.textContent.includes("ALARM"));
		return !!desired && desired.max > 1 && !!out && alarm;
	})()`)
	b.waitJS(t, 30*time.Second, "the high alarm's history with its action", `[...document.querySelectorAll("#alarms tr")].some(tr =>
		tr.dataset.alarm?.includes("AlarmHigh") && /Action: Successfully executed action arn:aws:autoscaling/.test(tr.querySelector("details.history")?.textContent || ""))`)
	ok, failed, first := stop()
	t.Logf("traffic: %d invocations, %d failed (%v)", ok, failed, first)
	b.waitJS(t, 60*time.Second, "the new instances in service", `JSON.parse(document.getElementById("chart-instances").dataset.summary).find(s => s.label === "in service").max > 1`)
	summary := get(t, b, chromedp.Evaluate[string](`document.getElementById("chart-instances").dataset.summary`))
	t.Logf("instances chart: %s\ntimeline:\n%s", summary, get(t, b, chromedp.Text(`#timeline`)))
	b.screenshot(t, shots, "endpoint")
	// Another time range reconnects and draws again.
	b.run(t, 10*time.Second, chromedp.Click(`button[data-range="1h"]`))
	b.waitJS(t, 20*time.Second, "the 1 h range", `document.getElementById("chart-instances")?.dataset.points === "60" || document.getElementById("chart-instances")?.dataset.points === "61"`)

	// The step policy: its steps as metric ranges, drawn against its alarm.
	b.run(t, 30*time.Second, chromedp.Navigate(s.URL+"/console/endpoints/search"), chromedp.WaitVisible(`table.steps`))
	b.waitJS(t, 20*time.Second, "the steps against the alarm's threshold", `(() => {
		const rows = [...document.querySelectorAll("table.steps tbody tr")].map(r => [...r.cells].map(c => c.textContent.trim()).join(" "));
		const lines = JSON.parse(document.querySelector('[id="chart-policy-AllTraffic-steps"]').dataset.lines);
		return rows.length === 2 && rows[0].includes("1000 1500 +1") && rows[1].includes("1500 +∞ +2") &&
			lines.some(l => l.kind === "high" && l.value === 1000) && lines.some(l => l.kind === "step" && l.value === 1500);
	})()`)
	b.screenshot(t, shots, "endpoint-steps")

	// Instance logs, tailed.
	b.run(t, 30*time.Second, chromedp.Navigate(s.URL+"/console/endpoints/shop/logs"), chromedp.WaitVisible(`#log`))
	b.waitJS(t, 20*time.Second, "log lines", `document.querySelectorAll("#log .line").length > 0`)
	b.screenshot(t, shots, "logs")

	// A simulation report, opened from a file.
	report := simulationReport(t)
	b.run(t, 30*time.Second, chromedp.Navigate(s.URL+"/console/report"), chromedp.WaitVisible(`#report-file`),
		chromedp.SetUploadFiles(`#report-file`, []string{report}))
	b.waitJS(t, 10*time.Second, "the report", `document.querySelectorAll("#report-table tbody tr").length >= 2 && !!document.querySelector("#report-load canvas") && !!document.querySelector("#report-capacity canvas")`)
	b.screenshot(t, shots, "report")
	b.noErrors(t)
}

// simulationReport runs `ebb simulate --json` with two policies on a short
// made-up trace and returns the report's path.
func simulationReport(t *testing.T) string {
	dir := t.TempDir()
	var trace strings.Builder
	trace.WriteString("requests\n")
	for sec := range 3600 {
		n := 5
		if sec > 600 && sec < 2400 {
			n = 40
		}
		fmt.Fprintln(&trace, n)
	}
	files := map[string]string{"trace.csv": trace.String()}
	for name, target := range map[string]int{"cautious": 300, "thrifty": 480} {
		files[name+".json"] = fmt.Sprintf(`{"MinCapacity": 1, "MaxCapacity": 10, "ScalingPolicies": [{"PolicyName": "p", "PolicyType": "TargetTrackingScaling",
			"TargetTrackingScalingPolicyConfiguration": {"TargetValue": %d, "ScaleOutCooldown": 60, "ScaleInCooldown": 300,
			"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}]}`, target)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(ebbBin, "simulate", "--trace", filepath.Join(dir, "trace.csv"), "--policy", filepath.Join(dir, "cautious.json"),
		"--policy", filepath.Join(dir, "thrifty.json"), "--startup", "1m", "--json", "--plot", "").Output()
	if err != nil {
		t.Fatalf("ebb simulate: %v", err)
	}
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConsoleSignIn: with --credentials the console asks for an access key
// and its secret, refuses a wrong one, and keeps a signed HttpOnly session
// cookie that scripts cannot read; a forged or missing cookie gets the
// sign-in page. Without credentials, a Host that is not loopback is refused.
func TestConsoleSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a browser")
	}
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("AKIDCONSOLE s3cret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "--credentials", creds)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, cookie := range []string{"", "ebb_console=QUtJRENPTlNPTEU.99999999999.00", "ebb_console=garbage"} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/console/endpoints/x", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login?next=") {
			t.Fatalf("cookie %q: %d to %q, want a redirect to sign in", cookie, resp.StatusCode, loc)
		}
	}
	// A live stream without a session is refused, not redirected.
	if resp, err := noRedirect.Get(s.URL + "/console/endpoints/x/live"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("live without a session: %v %v", resp, err)
	}

	b := newBrowser(t)
	b.run(t, 30*time.Second, chromedp.Navigate(s.URL+"/console/"), chromedp.WaitVisible(`form.login`),
		chromedp.SendKeys(`input[name=access_key]`, "AKIDCONSOLE"), chromedp.SendKeys(`input[name=secret_key]`, "wrong"),
		chromedp.Submit(`form.login`), chromedp.WaitVisible(`p.error`))
	b.forget() // the refused sign-in's 401
	b.run(t, 30*time.Second, chromedp.SendKeys(`input[name=access_key]`, "AKIDCONSOLE"), chromedp.SendKeys(`input[name=secret_key]`, "s3cret-key"),
		chromedp.Submit(`form.login`))
	b.waitJS(t, 10*time.Second, "the endpoints page", `document.querySelector("h1")?.textContent === "Endpoints"`)
	h1, cookies := get(t, b, chromedp.Text(`h1`)), get(t, b, chromedp.Evaluate[string](`document.cookie`))
	if h1 != "Endpoints" || strings.Contains(cookies, "ebb_console") {
		t.Fatalf("after signing in: heading %q, cookies visible to scripts %q", h1, cookies)
	}
	b.screenshot(t, t.TempDir(), "signed-in")
	// Signing out ends it.
	b.run(t, 30*time.Second, chromedp.Click(`header form button`), chromedp.WaitVisible(`form.login`))
	b.noErrors(t)

	// Without credentials: loopback only, as the APIs.
	open := startServer(t, t.TempDir())
	req, _ := http.NewRequest(http.MethodGet, open.URL+"/console/", nil)
	req.Host = "ebb.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("console for Host %s: %d, want 403", req.Host, resp.StatusCode)
	}
	// A cross-site page cannot use it (a script's fetch, a form), but a
	// person may follow a link to it (a top-level navigation).
	for mode, want := range map[string]int{"cors": http.StatusForbidden, "no-cors": http.StatusForbidden, "navigate": http.StatusOK} {
		req, _ = http.NewRequest(http.MethodGet, open.URL+"/console/", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Sec-Fetch-Mode", mode)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("cross-site, Sec-Fetch-Mode %s: %d, want %d", mode, resp.StatusCode, want)
		}
	}
	// A navigation reaches no API: it carries no signature.
	req, _ = http.NewRequest(http.MethodGet, open.URL+"/bucket/key", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site navigation to an S3 object: %v %v", resp, err)
	}
	req, _ = http.NewRequest(http.MethodPost, open.URL+"/console/login", strings.NewReader("access_key=a&secret_key=b"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site form post: %v %v", resp, err)
	}
}

// BenchmarkConsole measures the console's pages with 100 endpoints, each
// with a target-tracking policy (200 alarms) and a minute of traffic
// behind its charts: the endpoints page and an endpoint page as HTML, an
// endpoint's live snapshot (every chart, the timeline, the alarms) as
// JSON, and in Chromium the whole load of an endpoint page until its
// charts are drawn. It reports ms per page.
func BenchmarkConsole(b *testing.B) {
	s := startServer(b, b.TempDir(), "--time-scale", "60", "--instance-limit", "200")
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	const n = 100
	for i := range n {
		deploy(b, sm, fmt.Sprintf("ep-%03d", i), "ebb example-model --work-ms 0", 1)
	}
	for i := range n {
		name := fmt.Sprintf("ep-%03d", i)
		waitInService(b, sm, name)
		tracking(b, as, "endpoint/"+name+"/variant/AllTraffic", variantDim, 1, 2, "invocations", aastypes.MetricTypeSageMakerVariantInvocationsPerInstance, 1e6)
	}
	stop := traffic(rt, "ep-042", 2)
	cw := s.cloudWatchClients()["cbor"]
	eventually(b, time.Minute, "three minutes of ep-042's invocations in the charts", func() (bool, any) {
		out, err := cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/SageMaker"),
			MetricName: aws.String("Invocations"), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
			Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("ep-042")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
			StartTime:  aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(24 * time.Hour))})
		if err != nil {
			return false, err
		}
		return len(out.Datapoints) >= 3, len(out.Datapoints)
	})
	stop()

	for _, page := range []struct{ name, path string }{
		{"endpoints", "/console/"},
		{"endpoint", "/console/endpoints/ep-042"},
		{"snapshot", "/console/endpoints/ep-042/live?once=1"},
		{"snapshot-1d", "/console/endpoints/ep-042/live?once=1&range=1d"},
	} {
		b.Run(page.name, func(b *testing.B) {
			var bytes int
			for b.Loop() {
				resp, err := http.Get(s.URL + page.path)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d %v", page.path, resp.StatusCode, err)
				}
				bytes = len(body)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
			b.ReportMetric(float64(bytes), "bytes")
		})
	}
	b.Run("browser", func(b *testing.B) {
		br := newBrowser(b)
		for b.Loop() {
			br.run(b, 30*time.Second, chromedp.Navigate(s.URL+"/console/endpoints/ep-042"))
			br.waitJS(b, 30*time.Second, "the charts", `document.querySelectorAll("#charts canvas").length >= 4 && document.getElementById("live-state").textContent.startsWith("live")`)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		br.noErrors(b)
	})
}

// TestConsoleInferenceComponents: an endpoint of inference components
// shows them with their copies, a copies chart, and a component's policy
// on its own target; SetDesiredCopies through Application Auto Scaling's
// scale-out shows in the chart and the timeline.
func TestConsoleInferenceComponents(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a browser and a live scale-out")
	}
	b := newBrowser(t)
	s := startServer(t, t.TempDir(), "--time-scale", "60")
	sm, as := s.SageMaker(), s.AutoScaling()
	ctx := context.Background()
	hostEndpoint(t, sm, "llm", smtypes.ProductionVariantInstanceTypeMlC5Xlarge, 1, 2)
	createComponent(t, sm, "chat", "llm", "ebb example-model --work-ms 1", 1)
	waitComponent(t, sm, "chat", "InService", inService)
	id, dim := aws.String("inference-component/chat"), componentDim
	tracking(t, as, *id, dim, 1, 3, "per-copy", aastypes.MetricTypeSageMakerInferenceComponentInvocationsPerCopy, 50)
	b.run(t, 30*time.Second, chromedp.Navigate(s.URL+"/console/endpoints/llm"), chromedp.WaitVisible(`#components`))
	b.waitJS(t, 20*time.Second, "the component, its copies chart and its policy's chart", `!!document.querySelector('#components tr[data-component="chat"]') &&
		!!document.getElementById("chart-copies") && !!document.querySelector('[id="chart-policy-chat-per-copy"]') &&
		document.querySelector("#policy-per-copy").textContent.includes("inference-component/chat")`)
	// Scale out by hand, through Application Auto Scaling: the minimum.
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
		ScalableDimension: dim, MinCapacity: aws.Int32(2), MaxCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	b.waitJS(t, 60*time.Second, "two copies in the chart, the table and the timeline", `(() => {
		const copies = JSON.parse(document.getElementById("chart-copies").dataset.summary || "[]");
		const desired = copies.find(s => s.label === "chat desired");
		const hosts = JSON.parse(document.getElementById("chart-instances").dataset.summary || "[]");
		if (!hosts.some(s => s.label === "in service" && s.last >= 1)) return false;
		return !!desired && desired.last === 2 && document.querySelector('#components tr[data-component="chat"] .desired').textContent === "2" &&
			[...document.querySelectorAll("#timeline li.event-scaling")].some(li => li.textContent.includes("Setting desired copy count to 2."));
	})()`)
	// The component's own metrics (under its name) in the invocations chart.
	rt := s.Runtime()
	for range 20 {
		if _, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("llm"), InferenceComponentName: aws.String("chat"),
			Body: []byte("1,2"), ContentType: aws.String("text/csv")}); err != nil {
			t.Fatal(err)
		}
	}
	b.waitJS(t, 30*time.Second, "the component's invocations", `JSON.parse(document.getElementById("chart-invocations").dataset.summary || "[]").some(s => s.label === "chat invocations" && s.max >= 1)`)
	b.screenshot(t, screenshotDir(t), "endpoint-components")
	b.noErrors(t)
}
