package metrics

import (
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// StatSet is CloudWatch's statistic set.
type StatSet struct {
	SampleCount float64
	Sum         float64
	Minimum     float64
	Maximum     float64
}

// Add adds one value observed count times.
func (s *StatSet) Add(v, count float64) {
	s.Merge(StatSet{SampleCount: count, Sum: v * count, Minimum: v, Maximum: v})
}

// Merge adds another statistic set.
func (s *StatSet) Merge(o StatSet) {
	if o.SampleCount == 0 {
		return
	}
	if s.SampleCount == 0 {
		*s = o
		return
	}
	s.SampleCount += o.SampleCount
	s.Sum += o.Sum
	s.Minimum = math.Min(s.Minimum, o.Minimum)
	s.Maximum = math.Max(s.Maximum, o.Maximum)
}

// Average is Sum / SampleCount.
func (s StatSet) Average() float64 {
	if s.SampleCount == 0 {
		return 0
	}
	return s.Sum / s.SampleCount
}

// sketchAccuracy is the relative accuracy of percentiles (1%).
const sketchAccuracy = 0.01

var sketchMapping, _ = mapping.NewLogarithmicMapping(sketchAccuracy)

// sketchStore is the bin store of every sketch: buffered and paginated, so a
// bucket that saw a few values holds a few values, not a dense bin array.
// With 1% relative accuracy the bins a sketch can use are bounded by the
// range of float64, so it needs no collapsing.
func sketchStore() store.Store { return store.NewBufferedPaginatedStore() }

func newSketch() *ddsketch.DDSketch {
	return ddsketch.NewDDSketchFromStoreProvider(sketchMapping, sketchStore)
}

// bucket is one aggregation interval of one series.
type bucket struct {
	stats StatSet
	// sketch holds the distribution of individual values; nil when the
	// bucket only received statistic sets (which carry no distribution).
	sketch *ddsketch.DDSketch
	dirty  bool
}

func (b *bucket) add(v, count float64, sketch bool) {
	b.stats.Add(v, count)
	if !sketch || count <= 0 {
		b.dirty = true
		return
	}
	if b.sketch == nil {
		b.sketch = newSketch()
	}
	b.sketch.AddWithCount(v, count)
	b.dirty = true
}

func (b *bucket) addSet(s StatSet) {
	b.stats.Merge(s)
	b.dirty = true
}

// Percentile returns the q-quantile (0..1) of the values in a bucket
// aggregate, or false when no distribution is known.
func percentile(sk *ddsketch.DDSketch, q float64) (float64, bool) {
	if sk == nil || sk.IsEmpty() {
		return 0, false
	}
	v, err := sk.GetValueAtQuantile(q)
	return v, err == nil
}
