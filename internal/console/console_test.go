package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbscale/ebb/internal/autoscaler"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/store"
)

// Small stand-ins for the services (the end-to-end tests run the real
// ones): one endpoint, no policies, no alarms.
type endpoints struct{}

func (endpoints) ListEndpoints(context.Context, hosting.ListQuery) ([]hosting.EndpointView, string, error) {
	return []hosting.EndpointView{{Name: "shop", Status: "InService"}}, "", nil
}

func (endpoints) DescribeEndpoint(_ context.Context, name string) (hosting.EndpointView, error) {
	if name == "rolling" {
		// A canary baking at 10 %.
		return hosting.EndpointView{Name: "rolling", Status: "Updating", ConfigName: "v1", Variants: []hosting.VariantView{{Name: "AllTraffic", CurrentCount: 2, DesiredCount: 2}},
			Pending: &hosting.PendingView{ConfigName: "v2", Variants: []hosting.VariantView{{Name: "AllTraffic", Status: []hosting.VariantStatus{{Status: "Baking", Message: "10% of the traffic on the new fleet"}}}}},
			Share:   0.1, Deployment: &hosting.DeploymentConfig{AutoRollbackConfiguration: &hosting.AutoRollbackConfig{Alarms: []hosting.AlarmName{{AlarmName: "errors"}}}}}, nil
	}
	if name != "shop" {
		return hosting.EndpointView{}, hosting.ErrNotFound
	}
	return hosting.EndpointView{Name: "shop", Status: "InService", Variants: []hosting.VariantView{
		{Name: "AllTraffic", CurrentCount: 2, DesiredCount: 2, Images: []string{"model:v1", "sidecar:v2"}}, {Name: "Host"}}}, nil
}

func (endpoints) ListInferenceComponents(_ context.Context, q hosting.ComponentQuery) ([]hosting.ComponentView, string, error) {
	if q.EndpointNameEquals != "shop" {
		return nil, "", nil
	}
	// One component in its second batch, one rolled back.
	return []hosting.ComponentView{
		{Name: "ic", Endpoint: "shop", Variant: "Host", Status: "Updating", DesiredCopies: 4, CurrentCopies: 4,
			Rolling: &hosting.ComponentRolling{Batch: 2, Batches: 4, NewCopies: 2, PreviousCopies: 2, Alarms: []string{"ic-errors"}}},
		{Name: "back", Endpoint: "shop", Variant: "Host", Status: "InService", DesiredCopies: 2, CurrentCopies: 2,
			FailureReason: "Rolled back the update of inference component back: alarm ic-errors went into ALARM."},
	}, "", nil
}

type scalingStub struct{}

func (scalingStub) Policies(string, []string, string, string) []autoscaler.PolicyView {
	return nil
}
func (scalingStub) Scheduled(string, []string, string, string) []autoscaler.ScheduledView {
	return nil
}
func (scalingStub) Activities(context.Context, string, string, string, bool, time.Time) ([]autoscaler.Activity, error) {
	return nil, nil
}

type alarmsStub struct{}

func (alarmsStub) Describe(monitor.Filter) []monitor.MetricAlarm { return nil }
func (alarmsStub) History(context.Context, string, string, time.Time, time.Time) ([]store.HistoryItem, error) {
	return nil, nil
}

func newConsole(t *testing.T, creds map[string]string, wall clock.Clock) *Handler {
	ms, err := metrics.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Endpoints: endpoints{}, Scaling: scalingStub{}, Alarms: alarmsStub{}, Metrics: ms, Wall: wall, Credentials: creds})
}

func get(h http.Handler, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestSignIn: a wrong secret is refused; the right one gets a session
// cookie (HttpOnly, SameSite=Strict, the console's path) that opens the
// pages until it expires; a cookie changed in any part opens nothing.
func TestSignIn(t *testing.T) {
	wall := clock.NewFake(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	h := newConsole(t, map[string]string{"AKID": "secret"}, wall)
	if rec := get(h, "/console/endpoints/shop"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/login?next=%2Fconsole%2Fendpoints%2Fshop" {
		t.Fatalf("no session: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get(h, "/console/static/console.js"); rec.Code != http.StatusOK {
		t.Fatalf("assets need no session: %d", rec.Code)
	}
	login := func(secret, next string) *httptest.ResponseRecorder {
		form := url.Values{"access_key": {"AKID"}, "secret_key": {secret}, "next": {next}}
		req := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := login("wrong", "/console/"); rec.Code != http.StatusUnauthorized || len(rec.Result().Cookies()) != 0 {
		t.Fatalf("wrong secret: %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
	rec := login("secret", "https://evil.example/")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/" {
		t.Fatalf("sign-in: %d to %q (a redirect off the console must not be followed)", rec.Code, rec.Header().Get("Location"))
	}
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/console/" {
		t.Fatalf("cookie %+v", cookie)
	}
	if rec := get(h, "/console/endpoints/shop", cookie); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Sign out") {
		t.Fatalf("with the session: %d", rec.Code)
	}
	parts := strings.Split(cookie.Value, ".")
	for _, forged := range []string{
		parts[0] + "x." + parts[1] + "." + parts[2],          // another key
		parts[0] + "." + parts[1] + "9." + parts[2],          // a later expiry
		parts[0] + "." + parts[1] + "." + parts[2][1:] + "0", // another MAC
	} {
		if rec := get(h, "/console/", &http.Cookie{Name: cookieName, Value: forged}); rec.Code != http.StatusSeeOther {
			t.Errorf("forged cookie %q: %d", forged, rec.Code)
		}
	}
	wall.Advance(sessionLength)
	if rec := get(h, "/console/", cookie); rec.Code != http.StatusSeeOther {
		t.Fatalf("expired session: %d", rec.Code)
	}
}

// TestOpenConsole: without credentials there is no sign-in (the API's
// admission keeps the console to loopback), and pages carry a strict
// content security policy.
func TestOpenConsole(t *testing.T) {
	h := newConsole(t, nil, nil)
	rec := get(h, "/console/")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `data-name="shop"`) {
		t.Fatalf("endpoints: %d\n%s", rec.Code, rec.Body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	if rec := get(h, "/console/endpoints/nope"); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown endpoint: %d", rec.Code)
	}
	if rec := get(h, "/console/endpoints/shop/live?once=1"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"id":"instances"`) {
		t.Fatalf("snapshot: %d %s", rec.Code, rec.Body)
	}
}

// TestInstanceSteps: desired follows an activity from its start, in
// service from its successful end; before the first, the count it
// started from; the present period ends with the endpoint's state.
func TestInstanceSteps(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	end := t0.Add(5*time.Minute + 30*time.Second)
	acts := []autoscaler.Activity{ // newest first
		{Description: "Setting desired instance count to 3.", From: 1, Desired: 3, StartTime: t0.Add(2*time.Minute + 10*time.Second), EndTime: &end, StatusCode: autoscaler.StatusSuccessful},
		{Description: "Attempting to scale", From: 1, Desired: 1, StartTime: t0.Add(time.Minute), StatusCode: autoscaler.StatusFailed, NotScaledReasons: []autoscaler.NotScaledReason{{Code: "AlreadyAtMaxCapacity"}}},
	}
	var grid []time.Time
	for i := range 8 {
		grid = append(grid, t0.Add(time.Duration(i)*time.Minute))
	}
	now := t0.Add(7*time.Minute + 20*time.Second)
	desired, current := instanceSteps(acts, grid, time.Minute, now, 3, 3)
	var d, c []float64
	for i := range grid {
		d, c = append(d, *desired[i]), append(c, *current[i])
	}
	wantD, wantC := []float64{1, 1, 3, 3, 3, 3, 3, 3}, []float64{1, 1, 1, 1, 1, 3, 3, 3}
	for i := range grid {
		if d[i] != wantD[i] || c[i] != wantC[i] {
			t.Fatalf("desired %v, in service %v; want %v, %v", d, c, wantD, wantC)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/endpoints/x?range=1h": "/console/endpoints/x?range=1h",
		"":                              "/console/",
		"https://evil.example/":         "/console/",
		"//evil.example/console/":       "/console/",
		"/metrics":                      "/console/",
		"/console/\r\nSet-Cookie: x":    "/console/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFold: a run of the same decision not to scale is one event, with how
// many more times it was taken and since when; anything between ends it.
func TestFold(t *testing.T) {
	ns := func(at int64) Event {
		return Event{Time: at, Kind: "not-scaled", Variant: "v", Title: "Not scaled: AlreadyAtMaxCapacity.", Cause: "alarm high"}
	}
	got := fold([]Event{ns(5), ns(4), ns(3), {Time: 2, Kind: "scaling", Title: "Setting desired instance count to 3."}, ns(1)})
	if len(got) != 3 || got[0].Repeats != 2 || got[0].Since != 3 || got[0].Time != 5 || got[1].Kind != "scaling" || got[2].Repeats != 0 {
		t.Fatalf("%+v", got)
	}
}

// TestLiveEndsWithTheServer: a live page's stream sends its first snapshot
// and ends when the server stops (Done), not when its client goes away
// (which the front does not tell): otherwise an open tab holds a
// shutdown for its whole grace period.
func TestLiveEndsWithTheServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms, _ := metrics.Open(nil)
		done := make(chan struct{})
		h := New(Options{Endpoints: endpoints{}, Scaling: scalingStub{}, Alarms: alarmsStub{}, Metrics: ms, Done: done,
			Wall: clock.NewFake(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))})
		rec := httptest.NewRecorder()
		ended := make(chan struct{})
		go func() {
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/endpoints/shop/live", nil))
			close(ended)
		}()
		synctest.Wait()
		select {
		case <-ended:
			t.Fatal("the stream ended by itself")
		default:
		}
		close(done)
		synctest.Wait()
		select {
		case <-ended:
		default:
			t.Fatal("the stream outlived the server")
		}
		if body := rec.Body.String(); !strings.HasPrefix(body, "data: {") || rec.Header().Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%s: %q", rec.Header().Get("Content-Type"), body)
		}
	})
}

// TestPagesRender: every page renders whole (a template that names a
// field the view lacks fails at run time only), with what it shows.
func TestPagesRender(t *testing.T) {
	h := newConsole(t, nil, clock.NewFake(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)))
	for path, want := range map[string][]string{
		"/console/": {`data-name="shop"`},
		"/console/endpoints/shop": {`data-variant="AllTraffic"`, "<code>model:v1</code>, <code>sidecar:v2</code>", "inference components",
			"batch <b>2 of 4</b>: 2 copies of the new specification and 2 of the previous serve; rolled back by <code>ic-errors</code>",
			"<b>back</b>: Rolled back the update of inference component back"},
		"/console/endpoints/rolling": {"Deployment in progress", "To endpoint configuration <b>v2</b>", "<b>10%</b> of the traffic is on the new fleet",
			"Baking: 10% of the traffic on the new fleet", "rolled back by <code>errors</code>"},
	} {
		rec := get(h, path)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
			continue
		}
		for _, w := range want {
			if !strings.Contains(rec.Body.String(), w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
	}
}

// TestFleetShares: each fleet's share of its variant's invocations per
// period: a canary's step, the rollback to the old fleet, and no share in
// a period without invocations.
func TestFleetShares(t *testing.T) {
	ms, err := metrics.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	dims := []metrics.Dimension{{Name: "EndpointName", Value: "ep"}, {Name: "VariantName", Value: "AllTraffic"}}
	put := func(config string, minute int, n float64) {
		d := append(slices.Clone(dims), metrics.Dimension{Name: "EndpointConfigName", Value: config})
		if err := ms.Put([]metrics.Point{{Series: metrics.Series{Namespace: "AWS/SageMaker", MetricName: "Invocations", Dimensions: d},
			Unit: "None", Timestamp: t0.Add(time.Duration(minute)*time.Minute + time.Second), Value: n}}); err != nil {
			t.Fatal(err)
		}
	}
	put("old", 0, 10)
	put("old", 1, 9)
	put("new", 1, 1)
	put("old", 2, 10)
	put("new", 2, 0) // rolled back: the new fleet's last, idle minute
	h := New(Options{Endpoints: endpoints{}, Scaling: scalingStub{}, Alarms: alarmsStub{}, Metrics: ms})
	grid := []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute), t0.Add(3 * time.Minute)}
	shares, err := h.fleetShares(dims, []string{"old", "new"}, t0, t0.Add(4*time.Minute), grid, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	show := func(v []*float64) string {
		var out []string
		for _, x := range v {
			if x == nil {
				out = append(out, "-")
			} else {
				out = append(out, fmt.Sprint(*x))
			}
		}
		return strings.Join(out, " ")
	}
	if got := show(shares[0]) + " | " + show(shares[1]); got != "100 90 100 - | 0 10 0 -" {
		t.Fatalf("shares %s", got)
	}
}
