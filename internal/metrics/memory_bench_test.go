package metrics

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// BenchmarkLatencyMemory puts two days of a busy endpoint's ModelLatency
// (50 requests every 10 s) into ten series, compacting every
// RetentionInterval as the server does, and reports the heap a series
// holds after the first day (the last three hours at every resolution
// and a day of the coarser ones) and what each further day adds.
func BenchmarkLatencyMemory(b *testing.B) {
	for b.Loop() {
		s, _ := Open(nil)
		const series = 10
		start := time.Now().Add(-48 * time.Hour).Truncate(time.Hour)
		r := rand.New(rand.NewPCG(1, 2))
		var base, day1, day2 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&base)
		for at := start; at.Before(start.Add(48 * time.Hour)); at = at.Add(10 * time.Second) {
			pts := make([]Point, 0, series)
			for i := range series {
				vals := make([]float64, 50)
				for j := range vals {
					vals[j] = 2000 + r.ExpFloat64()*8000
				}
				pts = append(pts, Point{Series: Series{Namespace: "AWS/SageMaker", MetricName: "ModelLatency",
					Dimensions: []Dimension{{"EndpointName", fmt.Sprint("e", i)}}}, Timestamp: at, Values: vals})
			}
			s.Put(pts)
			if at.Sub(start)%RetentionInterval == 0 {
				s.Compact(at)
			}
			if at.Equal(start.Add(24 * time.Hour)) {
				runtime.GC()
				runtime.ReadMemStats(&day1)
			}
		}
		s.Compact(start.Add(48 * time.Hour))
		runtime.GC()
		runtime.ReadMemStats(&day2)
		b.ReportMetric(float64(day1.HeapAlloc-base.HeapAlloc)/series/1e6, "MB/series-first-day")
		b.ReportMetric((float64(day2.HeapAlloc)-float64(day1.HeapAlloc))/series/1e6, "MB/series-next-day")
		runtime.KeepAlive(s)
	}
}
