package metrics

import (
	"cmp"
	"math"
	"slices"

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

// dist is the distribution of a bucket's individual values, kept as
// cheaply as its values allow. While every value added is the same it is
// that value and its count: a bucket of a series that reports once per
// period (most alarms' metrics, in every 10- and 60-second bucket) needs
// nothing more. Up to maxExact distinct values are kept exactly (a
// 5-minute bucket of a once-a-minute series holds five, for 63 days); a
// sketch is made only beyond that, and holds every value from then on.
// Percentiles of exact values are exact, with the rank DDSketch uses
// (q × (count − 1), the first value whose cumulative count exceeds it), so
// a bucket's percentile only moves by the sketch's 1% when it becomes one.
type dist struct {
	value, count float64 // the first value and its count
	more         *moreValues
}

// maxExact is how many distinct values a dist keeps before it sketches.
const maxExact = 8

// moreValues are the values of a dist beyond its first.
type moreValues struct {
	exact  []valueCount       // the other distinct values, while there is no sketch
	sketch *ddsketch.DDSketch // every value, the first included
	// packed is the sketch encoded (its stored form), in place of sketch
	// in a bucket that has aged (see pack): about a tenth of its memory.
	packed []byte
}

type valueCount struct{ value, count float64 }

// sketch returns the distribution's sketch, or nil while it has none. A
// packed one is decoded into a sketch of the caller's own (the dist does
// not change, so readers may share it); fresh says so.
func (d *dist) sketch() (sk *ddsketch.DDSketch, fresh bool) {
	switch {
	case d.more == nil:
		return nil, false
	case d.more.packed != nil:
		sk, err := ddsketch.DecodeDDSketch(d.more.packed, sketchStore, nil)
		if err != nil {
			return newSketch(), true // never: packed by encode
		}
		return sk, true
	}
	return d.more.sketch, false
}

// pack encodes a sketch that will seldom change again: the values of an
// aged bucket are read (percentiles over hours and days) but rarely added
// to (late data), and a live sketch takes about ten times the memory of
// its stored form (2.3 KB against 200 bytes for a minute of a busy
// endpoint's ModelLatency).
func (d *dist) pack() {
	if d.more == nil || d.more.sketch == nil {
		return
	}
	var b []byte
	d.more.sketch.Encode(&b, false)
	d.more.packed, d.more.sketch = slices.Clip(b), nil
}

// unpack makes a packed sketch live again, before it changes.
func (d *dist) unpack() {
	if d.more != nil && d.more.packed != nil {
		d.more.sketch, _ = d.sketch()
		d.more.packed = nil
	}
}

func (d *dist) add(v, count float64) {
	d.unpack()
	switch {
	case d.more != nil && d.more.sketch != nil:
		d.more.sketch.AddWithCount(v, count)
		return
	case d.count == 0 || v == d.value:
		d.value, d.count = v, d.count+count
		return
	case d.more == nil:
		d.more = &moreValues{}
	}
	m := d.more
	for i := range m.exact {
		if m.exact[i].value == v {
			m.exact[i].count += count
			return
		}
	}
	if len(m.exact) < maxExact-1 {
		m.exact = append(m.exact, valueCount{v, count})
		return
	}
	d.toSketch()
	m.sketch.AddWithCount(v, count)
}

// toSketch moves the values into a sketch.
func (d *dist) toSketch() {
	d.unpack()
	if d.more == nil {
		d.more = &moreValues{}
	}
	if d.more.sketch != nil {
		return
	}
	sk := newSketch()
	if d.count > 0 {
		sk.AddWithCount(d.value, d.count)
	}
	for _, e := range d.more.exact {
		sk.AddWithCount(e.value, e.count)
	}
	d.more.sketch, d.more.exact = sk, nil
}

// merge adds another distribution; the result never shares o's values.
func (d *dist) merge(o dist) {
	if sk, fresh := o.sketch(); sk != nil {
		if d.count == 0 && d.more == nil {
			if !fresh {
				sk = sk.Copy()
			}
			d.value, d.count, d.more = o.value, o.count, &moreValues{sketch: sk}
			return
		}
		d.toSketch()
		d.more.sketch.MergeWith(sk)
		return
	}
	if o.count > 0 {
		d.add(o.value, o.count)
	}
	if o.more != nil {
		for _, e := range o.more.exact {
			d.add(e.value, e.count)
		}
	}
}

// quantile returns the q-quantile (0..1) of the values, or false when none
// were added.
func (d *dist) quantile(q float64) (float64, bool) {
	if sk, _ := d.sketch(); sk != nil {
		if sk.IsEmpty() {
			return 0, false
		}
		v, err := sk.GetValueAtQuantile(q)
		return v, err == nil
	}
	if d.more == nil || len(d.more.exact) == 0 {
		return d.value, d.count > 0
	}
	var buf [maxExact]valueCount
	vals := append(append(buf[:0], valueCount{d.value, d.count}), d.more.exact...)
	slices.SortFunc(vals, func(a, b valueCount) int { return cmp.Compare(a.value, b.value) })
	total := 0.0
	for _, e := range vals {
		total += e.count
	}
	rank := float64(q * (total - 1)) // as DDSketch computes it, without FMA
	cum := 0.0
	for _, e := range vals {
		if cum += e.count; cum > rank {
			return e.value, true
		}
	}
	return vals[len(vals)-1].value, true
}

// encode appends the distribution as a DDSketch (the stored form), or
// nothing when none is known.
func (d *dist) encode(b *[]byte) {
	if d.more != nil && d.more.packed != nil {
		*b = append(*b, d.more.packed...)
		return
	}
	sk, _ := d.sketch()
	if sk == nil && d.count > 0 {
		cp := dist{value: d.value, count: d.count}
		if d.more != nil {
			cp.more = &moreValues{exact: d.more.exact}
		}
		cp.toSketch()
		sk = cp.more.sketch
	}
	if sk != nil {
		sk.Encode(b, false)
	}
}

// sketchDist is a stored distribution (a decoded sketch).
func sketchDist(sk *ddsketch.DDSketch) dist {
	return dist{count: sk.GetCount(), more: &moreValues{sketch: sk}}
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

// clone is a copy that shares nothing that changes.
func (b *bucket) clone() bucket {
	c := *b
	if m := b.dist.more; m != nil {
		// A packed sketch is never changed in place (unpack replaces it).
		c.dist.more = &moreValues{exact: slices.Clone(m.exact), packed: m.packed}
		if m.sketch != nil {
			c.dist.more.sketch = m.sketch.Copy()
		}
	}
	return c
}

func (b *bucket) addSet(s StatSet) {
	b.stats.Merge(s)
}
