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

// dist is the distribution of a bucket's individual values. While every
// value added is the same it is kept as that value and its count: a bucket
// of a series that reports once per period (most alarms' metrics, in every
// 10- and 60-second bucket) never needs a sketch, which is most of the
// store's memory. The sketch is made when a second, different value comes,
// and percentiles of a single value are that value, exactly.
type dist struct {
	value, count float64
	sketch       *ddsketch.DDSketch
}

func (d *dist) add(v, count float64) {
	switch {
	case d.sketch != nil:
		d.sketch.AddWithCount(v, count)
	case d.count == 0 || v == d.value:
		d.value, d.count = v, d.count+count
	default:
		d.sketch = newSketch()
		d.sketch.AddWithCount(d.value, d.count)
		d.sketch.AddWithCount(v, count)
	}
}

// merge adds another distribution; the result never shares o's sketch.
func (d *dist) merge(o dist) {
	switch {
	case o.sketch != nil && d.sketch == nil && d.count == 0:
		d.sketch = o.sketch.Copy()
	case o.sketch != nil:
		if d.sketch == nil {
			d.sketch = newSketch()
			d.sketch.AddWithCount(d.value, d.count)
		}
		d.sketch.MergeWith(o.sketch)
	case o.count > 0:
		d.add(o.value, o.count)
	}
}

// quantile returns the q-quantile (0..1) of the values, or false when none
// were added.
func (d *dist) quantile(q float64) (float64, bool) {
	if d.sketch == nil {
		return d.value, d.count > 0
	}
	if d.sketch.IsEmpty() {
		return 0, false
	}
	v, err := d.sketch.GetValueAtQuantile(q)
	return v, err == nil
}

// encode appends the distribution as a DDSketch (the stored form), or
// nothing when none is known.
func (d *dist) encode(b *[]byte) {
	sk := d.sketch
	if sk == nil && d.count > 0 {
		sk = newSketch()
		sk.AddWithCount(d.value, d.count)
	}
	if sk != nil {
		sk.Encode(b, false)
	}
}

// bucket is one aggregation interval of one series.
type bucket struct {
	stats StatSet
	// dist holds the distribution of individual values; empty when the
	// bucket only received statistic sets (which carry no distribution).
	dist dist
}

func (b *bucket) add(v, count float64, sketch bool) {
	b.stats.Add(v, count)
	if sketch && count > 0 {
		b.dist.add(v, count)
	}
}

func (b *bucket) addSet(s StatSet) {
	b.stats.Merge(s)
}
