package modelmetrics

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/hosting"
)

// vllmPage is an exposition the size of a busy vLLM server's (about 60
// KiB): the load metrics, and twenty histograms of thirty buckets for
// two engines, which the parser reads and ebb does not publish.
func vllmPage(t testing.TB) string {
	base, err := os.ReadFile("testdata/vllm.txt")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(base)
	for h := range 20 {
		fmt.Fprintf(&b, "# HELP vllm:histogram_%d A histogram.\n# TYPE vllm:histogram_%d histogram\n", h, h)
		for engine := range 2 {
			for i := range 30 {
				fmt.Fprintf(&b, "vllm:histogram_%d_bucket{engine=\"%d\",le=\"%g\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} %d\n", h, engine, 0.001*float64(int(1)<<i), i*10)
			}
			fmt.Fprintf(&b, "vllm:histogram_%d_bucket{engine=\"%d\",le=\"+Inf\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 300\n", h, engine)
			fmt.Fprintf(&b, "vllm:histogram_%d_count{engine=\"%d\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 300\n", h, engine)
			fmt.Fprintf(&b, "vllm:histogram_%d_sum{engine=\"%d\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 12.5\n", h, engine)
		}
	}
	return b.String()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScrape100 is one round of reading 100 instances over real HTTP
// (loopback): the CPU it takes, as a share of one core at one round every
// Every (%core). The servers run in the same process, so their serving is
// counted too: an upper bound of ebb's share.
func BenchmarkScrape100(b *testing.B) {
	page := vllmPage(b)
	asks := map[string]string{PathKey: "/metrics"}
	var hs running
	for i := range 100 {
		hs = append(hs, hosting.RunningInstance{Endpoint: "llm", Variant: fmt.Sprintf("v%d", i%4), Instance: server{id: fmt.Sprintf("i%d", i), addr: modelServer(b, page, 200)}, Environment: asks})
	}
	s := &Scraper{Hosting: hs, Store: &store{}}
	ctx, now := context.Background(), time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	if err := s.Tick(ctx, now); err != nil { // connections opened, counters seen
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(page)), "B/page")
	b.ResetTimer()
	before := cpuTime()
	for i := range b.N {
		if err := s.Tick(ctx, now.Add(time.Duration(i+1)*Every)); err != nil {
			b.Fatal(err)
		}
	}
	perRound := (cpuTime() - before) / time.Duration(b.N)
	b.ReportMetric(float64(perRound)/float64(Every)*100, "%core")
	b.ReportMetric(float64(perRound.Microseconds()), "cpu-µs/round")
}
