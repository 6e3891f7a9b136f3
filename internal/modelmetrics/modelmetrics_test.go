package modelmetrics

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/metrics"
)

func TestFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		ok    bool
		err   string
		names map[string]Kind
	}{
		{"nothing asked", map[string]string{"A": "1"}, false, "", nil},
		{"the defaults", map[string]string{PathKey: "/metrics"}, true, "", Defaults},
		{"named", map[string]string{PathKey: "/metrics", NamesKey: "my_queue, my_cache=ratio,"}, true, "", map[string]Kind{"my_queue": Count, "my_cache": Ratio}},
		{"names without a path", map[string]string{NamesKey: "q"}, false, "EBB_METRICS_NAMES needs EBB_METRICS_PATH", nil},
		{"not a path", map[string]string{PathKey: "metrics"}, false, `EBB_METRICS_PATH "metrics": want a path such as /metrics`, nil},
		{"an unknown kind", map[string]string{PathKey: "/m", NamesKey: "q=max"}, false, "q=max: a metric is a count", nil},
		{"no names", map[string]string{PathKey: "/m", NamesKey: " , "}, false, "names no metric", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok, err := FromEnvironment(tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || len(c.Names) != len(tc.names) {
				t.Fatalf("= %+v, %v, %v", c, ok, err)
			}
			for n, k := range tc.names {
				if c.Names[n] != k {
					t.Fatalf("%s: %v, want %v", n, c.Names[n], k)
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	f, err := os.Open("testdata/vllm.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]Kind{"vllm:num_requests_running": Count, "vllm:num_requests_waiting": Count, "vllm:kv_cache_usage_perc": Ratio,
		"vllm:generation_tokens_total": Count, "vllm:time_to_first_token_seconds": Count, "absent": Count}
	got, err := Parse(f, names)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Value{
		"vllm:num_requests_running":    {Kind: Count, V: 5},     // summed over the engines
		"vllm:num_requests_waiting":    {Kind: Count, V: 5},     //
		"vllm:kv_cache_usage_perc":     {Kind: Ratio, V: 0.375}, // averaged
		"vllm:generation_tokens_total": {Kind: Count, Counter: true, V: 1500},
	} // the histogram and the absent metric are left out
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s = %+v, want %+v", n, got[n], w)
		}
	}
	if _, err := Parse(strings.NewReader("vllm:num_requests_waiting{not an exposition\n"), names); err == nil {
		t.Fatal("garbage parsed")
	}
	// Lines of other metrics do not reach the parser: a page of other
	// things answers none of the names.
	if got, err := Parse(strings.NewReader("<html>\nnot { an exposition\n"), names); err != nil || len(got) != 0 {
		t.Fatalf("another page: %v, %v", got, err)
	}
}

// point finds a datapoint by metric and dimension values.
func point(pts []metrics.Point, name string, dims ...string) *metrics.Point {
	for i, p := range pts {
		if p.Series.MetricName != name || len(p.Series.Dimensions) != len(dims) {
			continue
		}
		match := true
		for j, d := range p.Series.Dimensions {
			match = match && d.Value == dims[j]
		}
		if match {
			return &pts[i]
		}
	}
	return nil
}

func TestAggregator(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	a := &Aggregator{}
	vals := func(waiting, cache, tokens float64) map[string]Value {
		return map[string]Value{"waiting": {Kind: Count, V: waiting}, "cache": {Kind: Ratio, V: cache}, "tokens": {Counter: true, V: tokens}}
	}
	i1 := Target{Endpoint: "llm", Variant: "AllTraffic", Instance: "i1"}
	i2 := Target{Endpoint: "llm", Variant: "AllTraffic", Instance: "i2"}
	copy1 := Target{Endpoint: "llm", Variant: "AllTraffic", Component: "chat", Instance: "c1"}

	// First round: counters have no increase yet.
	pts := a.Points(now, []Scrape{{i1, vals(3, 0.5, 100)}, {i2, vals(1, 0.25, 40)}, {copy1, vals(2, 0.9, 7)}})
	if p := point(pts, "waiting", "llm", "AllTraffic"); p == nil || p.Value != 4 {
		t.Fatalf("the variant's waiting: %+v", p)
	}
	if p := point(pts, "waiting", "llm", "AllTraffic", "i1"); p == nil || p.Value != 3 {
		t.Fatalf("i1's waiting: %+v", p)
	}
	if p := point(pts, "cache", "llm", "AllTraffic"); p == nil || len(p.Values) != 2 || p.Values[0]+p.Values[1] != 0.75 {
		t.Fatalf("the variant's cache, one value per instance: %+v", p)
	}
	if p := point(pts, "waiting", "chat"); p == nil || p.Value != 2 {
		t.Fatalf("the component's waiting: %+v", p)
	}
	if p := point(pts, ScrapedTargets, "llm", "AllTraffic"); p == nil || p.Value != 2 {
		t.Fatalf("targets: %+v", p)
	}
	if point(pts, "tokens", "llm", "AllTraffic") != nil || point(pts, "tokens", "llm", "AllTraffic", "i1") != nil {
		t.Fatal("a counter's first scrape published")
	}

	// Second round: i2's counter was reset; i2 then stops answering.
	pts = a.Points(now.Add(Every), []Scrape{{i1, vals(5, 0.5, 160)}, {i2, vals(0, 0.1, 15)}, {copy1, vals(2, 0.9, 7)}})
	if p := point(pts, "tokens", "llm", "AllTraffic"); p == nil || p.Value != 60+15 {
		t.Fatalf("the variant's tokens: %+v", p)
	}
	if p := point(pts, "tokens", "chat"); p == nil || p.Value != 0 {
		t.Fatalf("the component's tokens: %+v", p)
	}
	pts = a.Points(now.Add(2*Every), []Scrape{{i1, vals(6, 0.5, 170)}})
	if p := point(pts, "waiting", "llm", "AllTraffic"); p == nil || p.Value != 6 {
		t.Fatalf("the variant's waiting, i2 silent: %+v", p)
	}
	if p := point(pts, ScrapedTargets, "llm", "AllTraffic"); p == nil || p.Value != 1 {
		t.Fatalf("targets, i2 silent: %+v", p)
	}
	if point(pts, "waiting", "chat") != nil || point(pts, "waiting", "llm", "AllTraffic", "i2") != nil {
		t.Fatal("a silent target published (it must publish nothing, never zero)")
	}
	// i2 answers again: its counter starts over (no increase published).
	pts = a.Points(now.Add(3*Every), []Scrape{{i2, vals(0, 0.1, 30)}})
	if point(pts, "tokens", "llm", "AllTraffic", "i2") != nil {
		t.Fatal("an increase across a silence was published")
	}
	if pts := a.Points(now.Add(4*Every), nil); len(pts) != 0 {
		t.Fatalf("nothing answered, yet %+v", pts)
	}
}

// FuzzParse: whatever a model server answers, Parse returns or errs, and
// never panics.
func FuzzParse(f *testing.F) {
	page, err := os.ReadFile("testdata/vllm.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(page)
	f.Add([]byte("vllm:num_requests_waiting{a=\"b\"} NaN\n"))
	f.Add([]byte("# TYPE vllm:num_requests_waiting counter\nvllm:num_requests_waiting -1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse(bytes.NewReader(b), Defaults)
	})
}
