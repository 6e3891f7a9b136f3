package metrics

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
)

// Dimension is a name/value pair that identifies a series.
type Dimension struct {
	Name  string
	Value string
}

// Series identifies a metric.
type Series struct {
	Namespace  string
	MetricName string
	Dimensions []Dimension // sorted by name
}

// ID is the series' canonical string form, unique per series.
func (s Series) ID() string { return string(s.appendID(nil)) }

func (s Series) appendID(b []byte) []byte {
	b = append(b, s.Namespace...)
	b = append(b, 0)
	b = append(b, s.MetricName...)
	for _, d := range s.Dimensions {
		b = append(b, 0)
		b = append(b, d.Name...)
		b = append(b, '=')
		b = append(b, d.Value...)
	}
	return b
}

// Normalize sorts the dimensions by name, the order CloudWatch ignores. The
// dimensions are copied only when they are not in order already (as ebb's
// own publishers send them).
func (s Series) Normalize() Series {
	byName := func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(s.Dimensions, byName) {
		s.Dimensions = slices.Clone(s.Dimensions)
		slices.SortStableFunc(s.Dimensions, byName)
	}
	return s
}

// Point is one datapoint to store: a value (with a count, for PutMetricData's
// Values/Counts) or a statistic set.
type Point struct {
	Series    Series
	Unit      string
	Timestamp time.Time
	Value     float64
	Count     float64 // 0 means 1
	// Values, if not empty, are many values at once (PutMetricData's
	// Values/Counts); Counts, if given, pairs with them.
	Values []float64
	Counts []float64
	Set    *StatSet // if set, the value fields are ignored
}

// resolution is one level of aggregation.
type resolution struct {
	step      int64 // seconds
	retention time.Duration
	sketch    bool // keeps a distribution for percentiles
}

// Resolutions, finest first. The 1-second level keeps statistic sets only:
// a sketch per second of a busy series would cost megabytes, so percentiles
// start at 10-second periods (the 10-second level keeps them for the same
// 3 hours).
var resolutions = []resolution{
	{1, 3 * time.Hour, false},
	{10, 3 * time.Hour, true},
	{60, 15 * 24 * time.Hour, true},
	{300, 63 * 24 * time.Hour, true},
	{3600, 455 * 24 * time.Hour, true},
}

// series is a metric's data, kept apart by unit: in CloudWatch a unit
// belongs to each datapoint, and a query that names a unit reads only the
// points published with it.
type series struct {
	Series
	units []*unitSeries // usually one
}

// unitSeries is the points of one series published with one unit.
type unitSeries struct {
	unit    string      // "None" for points published without one
	buckets [5]timeline // per resolution
}

// unitOf returns the series' data in a unit, adding it if add is set (nil
// if it is not there otherwise).
func (ser *series) unitOf(unit string, add bool) *unitSeries {
	for _, u := range ser.units {
		if u.unit == unit {
			return u
		}
	}
	if !add {
		return nil
	}
	u := &unitSeries{unit: unit}
	ser.units = append(ser.units, u)
	return u
}

// unitName is the unit a point or query gives, "None" when it gives none.
func unitName(u string) string {
	if u == "" {
		return "None"
	}
	return u
}

// Acker is a Persister that can, in the same transaction as a save, remove
// the queued batches whose points the saved buckets hold (the followers'
// metrics in PostgreSQL's inbox), so that a batch is counted exactly once
// whenever the saving process dies.
type Acker interface {
	SaveBucketsAck(bs []PersistedBucket, acks []int64) error
}

// Persister saves and loads buckets. A nil Persister keeps memory only.
type Persister interface {
	SaveBuckets([]PersistedBucket) error
	LoadBuckets(func(PersistedBucket) error) error
	// PruneBuckets deletes the buckets of a resolution that end before a time.
	PruneBuckets(step, before int64) error
}

// Batch is a queued document of points (a follower's measurements), with
// its sequence number in the queue.
type Batch struct {
	Seq int64
	Doc []byte
}

// PersistedBucket is a bucket as stored.
type PersistedBucket struct {
	Series Series
	Unit   string
	Step   int64
	Start  int64
	Stats  StatSet
	Sketch []byte // encoded DDSketch, nil if none
}

// Store is the time-series store. It is safe for concurrent use.
type Store struct {
	mu      sync.RWMutex
	series  map[string]*series
	persist Persister
	// saving serialises Puts from staging to installed, so that a
	// bucket's older state never overwrites a newer one, in the persister
	// or in memory.
	saving sync.Mutex
	id     []byte // get's buffer for series IDs
	// removed counts the series retention has removed: a SeriesRef found
	// before a removal looks its series up again.
	removed uint64
}

// SeriesRef names a series by its normalized ID (Series.ID) and remembers
// where the store keeps it, so that a reader of the same series every
// minute (an alarm) finds it without hashing and comparing its long ID
// (a third of an alarm's reading, measured). A ref belongs to one reader
// at a time.
type SeriesRef struct {
	ID      string
	ser     *series
	removed uint64
}

// lookup finds a ref's series. Callers hold s.mu.
func (s *Store) lookup(ref *SeriesRef) *series {
	if ref.ser == nil || ref.removed != s.removed {
		// A series not there yet is looked up again next time.
		ref.ser, ref.removed = s.series[ref.ID], s.removed
	}
	return ref.ser
}

// Open returns a store, loading what the persister holds.
func Open(p Persister) (*Store, error) {
	s := &Store{series: map[string]*series{}, persist: p}
	if p == nil {
		return s, nil
	}
	err := p.LoadBuckets(func(pb PersistedBucket) error {
		u := s.get(pb.Series).unitOf(unitName(pb.Unit), true)
		level := slices.IndexFunc(resolutions, func(r resolution) bool { return r.step == pb.Step })
		if level < 0 {
			return fmt.Errorf("stored bucket with unknown step %d", pb.Step)
		}
		b := bucket{stats: pb.Stats}
		if len(pb.Sketch) > 0 {
			sk, err := ddsketch.DecodeDDSketch(pb.Sketch, sketchStore, nil)
			if err != nil {
				return fmt.Errorf("stored sketch: %w", err)
			}
			b.dist = sketchDist(sk)
		}
		*u.buckets[level].add(pb.Start) = b
		return nil
	})
	return s, err
}

// get finds or adds a normalized series. Callers hold s.mu for writing.
func (s *Store) get(key Series) *series {
	s.id = key.appendID(s.id[:0]) // a lookup by string(s.id) does not allocate
	ser := s.series[string(s.id)]
	if ser == nil {
		key.Dimensions = slices.Clone(key.Dimensions) // the store's own, whatever the caller does with its points
		ser = &series{Series: key}
		s.series[string(s.id)] = ser
	}
	return ser
}

// Put stores points. With a persister it is all or nothing: the points'
// buckets are staged apart, saved, and only then take their place in
// memory, so a Put that fails (PutMetricData answering 503, a follower's
// batch left queued) has stored nothing, and a retry counts once.
func (s *Store) Put(points []Point) error { return s.PutAck(points, nil) }

// PutAck is Put for points that came in the queued batches acks: the
// persister (an Acker) removes the batches in the transaction that saves
// their buckets, so they are saved and gone, or neither.
func (s *Store) PutAck(points []Point, acks []int64) error {
	if s.persist == nil {
		if len(acks) > 0 {
			return errors.New("metrics: a store without a persister cannot acknowledge batches")
		}
		s.mu.Lock()
		for _, p := range points {
			u := s.get(p.Series.Normalize()).unitOf(unitName(p.Unit), true)
			for level := range resolutions {
				addPoint(u.buckets[level].add(levelStart(p, level)), p, level)
			}
		}
		s.mu.Unlock()
		return nil
	}
	s.saving.Lock()
	defer s.saving.Unlock()
	staged, changed := s.stage(points)
	var err error
	switch a, ok := s.persist.(Acker); {
	case len(acks) > 0 && ok:
		err = a.SaveBucketsAck(changed, acks)
	case len(acks) > 0:
		err = errors.New("metrics: the persister cannot acknowledge batches")
	case len(changed) > 0:
		err = s.persist.SaveBuckets(changed)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	for k, st := range staged {
		u := s.get(st.series).unitOf(k.unit, true)
		*u.buckets[k.level].add(k.start) = st.bucket
	}
	s.mu.Unlock()
	return nil
}

// stagedKey names a bucket by value, whether or not memory has it yet.
type stagedKey struct {
	series string // Series.ID
	unit   string
	level  int
	start  int64
}

// stagedBucket is a bucket's state with a Put's points added.
type stagedBucket struct {
	series Series
	bucket bucket
}

// stage computes, without changing memory, the state of every bucket the
// points change (a copy of the bucket in memory with the points added),
// and those states in their stored form. Callers hold s.saving, so memory
// cannot change underneath but by Compact.
func (s *Store) stage(points []Point) (map[stagedKey]*stagedBucket, []PersistedBucket) {
	staged := map[stagedKey]*stagedBucket{}
	var order []stagedKey
	s.mu.RLock()
	for _, p := range points {
		key := p.Series.Normalize()
		id := key.ID()
		unit := unitName(p.Unit)
		for level := range resolutions {
			k := stagedKey{id, unit, level, levelStart(p, level)}
			st := staged[k]
			if st == nil {
				st = &stagedBucket{series: key}
				if ser := s.series[id]; ser != nil {
					if u := ser.unitOf(unit, false); u != nil {
						if b := u.buckets[level].get(k.start); b != nil {
							st.bucket = b.clone()
						}
					}
				}
				staged[k] = st
				order = append(order, k)
			}
			addPoint(&st.bucket, p, level)
		}
	}
	s.mu.RUnlock()
	changed := make([]PersistedBucket, len(order))
	for i, k := range order {
		st := staged[k]
		changed[i] = PersistedBucket{Series: st.series, Unit: k.unit, Step: resolutions[k.level].step, Start: k.start, Stats: st.bucket.stats}
		st.bucket.dist.encode(&changed[i].Sketch)
	}
	return staged, changed
}

// levelStart is the start of the bucket of a resolution a point falls in.
func levelStart(p Point, level int) int64 {
	sec := p.Timestamp.Unix()
	return sec - mod(sec, resolutions[level].step)
}

// addPoint adds a point to its bucket of a resolution.
func addPoint(b *bucket, p Point, level int) {
	sketch := resolutions[level].sketch
	switch {
	case p.Set != nil:
		b.addSet(*p.Set)
	case len(p.Values) > 0:
		for i, v := range p.Values {
			count := 1.0
			if i < len(p.Counts) {
				count = p.Counts[i]
			}
			b.add(v, count, sketch)
		}
	default:
		count := p.Count
		if count == 0 {
			count = 1
		}
		b.add(p.Value, count, sketch)
	}
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// PackAge is the age from which a bucket's distribution is kept packed
// (encoded), a tenth of its memory: the last three hours, which alarms and
// most dashboards read, stay live.
const PackAge = 3 * time.Hour

// Compact drops buckets past their retention at now, and series left
// empty, and packs the distributions of buckets older than PackAge.
func (s *Store) Compact(now time.Time) error {
	if s.persist != nil {
		for _, r := range resolutions {
			if err := s.persist.PruneBuckets(r.step, now.Add(-r.retention).Unix()); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ser := range s.series {
		ser.units = slices.DeleteFunc(ser.units, func(u *unitSeries) bool {
			empty := true
			for level, r := range resolutions {
				oldest := now.Add(-r.retention).Unix()
				u.buckets[level].dropBefore(oldest - r.step + 1) // those that end by oldest
				if r.sketch {
					u.buckets[level].pack(now.Add(-PackAge).Unix() - r.step + 1)
				}
				if u.buckets[level].len() > 0 {
					empty = false
				}
			}
			return empty
		})
		if len(ser.units) == 0 {
			delete(s.series, id)
			s.removed++
		}
	}
	return nil
}

// Errors of Query that the API reports as InvalidParameterValue.
var (
	ErrPeriod = errors.New("the period must be 1, 5, 10, 20, 30 or a multiple of 60 seconds")
)

// Datapoint is one aggregated period.
type Datapoint struct {
	Timestamp   time.Time
	Unit        string
	Stats       StatSet
	Percentiles map[float64]float64 // quantile (0..1) -> value, where known
}

// Query aggregates a series into periods within [start, end). As in
// CloudWatch's GetMetricStatistics, start is first rounded down: to the
// period for high-resolution periods, else to the minute for data less than
// 15 days old, to 5 minutes up to 63 days and to the hour beyond, and the
// periods follow on from it. Each period is merged from the coarsest
// resolution that still holds data that old and fits the period exactly.
// Only periods with data are returned, in time order.
//
// A unit selects the points published with it ("None": without one); with
// no unit every unit is read, a datapoint per period and unit, each with
// its Unit, as GetMetricStatistics documents: "If you omit Unit, all data
// that was collected with any unit is returned, along with the
// corresponding units that were specified when the data was reported".
func (s *Store) Query(key Series, unit string, start, end time.Time, period time.Duration, quantiles []float64, now time.Time) ([]Datapoint, error) {
	first, level, p, err := plan(start, now, period)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ser := s.series[key.Normalize().ID()]
	if ser == nil {
		return nil, nil
	}
	var out []Datapoint
	for _, u := range ser.units {
		if unit == "" || u.unit == unit {
			u.scan(level, first, end.Unix(), p, len(quantiles) > 0, func(t int64, agg StatSet, d dist) {
				out = append(out, datapoint(t, u.unit, agg, d, quantiles))
			})
		}
	}
	if len(ser.units) > 1 && unit == "" {
		slices.SortStableFunc(out, func(a, b Datapoint) int { return a.Timestamp.Compare(b.Timestamp) })
	}
	return out, nil
}

// Sample is one period's value of one statistic, with the number of
// samples behind it.
type Sample struct {
	Timestamp   time.Time
	Value       float64
	SampleCount float64
}

// AppendStat is Scan for one statistic, appending to dst each period's
// value (of the periods that have data, a percentile only where the
// period keeps a distribution): what alarms read, 40,000 times a minute,
// without a callback through an interface, which made every read allocate.
func (s *Store) AppendStat(dst []Sample, ref *SeriesRef, unit string, start, end time.Time, period time.Duration, stat Stat, now time.Time) ([]Sample, error) {
	first, level, p, err := plan(start, now, period)
	if err != nil {
		return dst, err
	}
	s.mu.RLock()
	ser := s.lookup(ref)
	if ser == nil {
		s.mu.RUnlock()
		return dst, nil
	}
	units := ser.units
	if unit != "" {
		i := slices.IndexFunc(units, func(u *unitSeries) bool { return u.unit == unit })
		if i < 0 {
			s.mu.RUnlock()
			return dst, nil
		}
		units = units[i : i+1]
	}
	if len(units) == 1 {
		units[0].scan(level, first, end.Unix(), p, stat.Percentile(), func(t int64, agg StatSet, d dist) {
			if v, ok := statValue(stat, agg, &d); ok {
				dst = append(dst, Sample{Timestamp: time.Unix(t, 0).UTC(), Value: v, SampleCount: agg.SampleCount})
			}
		})
		s.mu.RUnlock()
		return dst, nil
	}
	s.mu.RUnlock()
	// Several units, merged period by period (rare): through Scan.
	err = s.Scan(ref, unit, start, end, period, stat.Quantiles(), now, func(dp Datapoint) {
		if v, ok := dp.Value(stat); ok {
			dst = append(dst, Sample{Timestamp: dp.Timestamp, Value: v, SampleCount: dp.Stats.SampleCount})
		}
	})
	return dst, err
}

// Scan is Query for a series already normalized into its ID (callers that
// read the same series often, alarms, keep a ref) that hands each
// datapoint to fn instead of collecting them: an alarm's evaluation reads
// 5 to 17 periods 40,000 times a minute, and allocates nothing here. fn runs
// under the store's read lock and must not call the store.
//
// Scan serves the readers whose answers carry no unit (alarms,
// GetMetricData): with no unit, the points of every unit are merged into
// one datapoint per period (CloudWatch's alarm documentation: "CloudWatch
// retrieves all unit types that have been published for the metric and
// attempts to evaluate the alarm"), whose Unit is the one unit if there is
// only one and "None" otherwise.
func (s *Store) Scan(ref *SeriesRef, unit string, start, end time.Time, period time.Duration, quantiles []float64, now time.Time, fn func(Datapoint)) error {
	first, level, p, err := plan(start, now, period)
	if err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ser := s.lookup(ref)
	if ser == nil {
		return nil
	}
	units := ser.units
	if unit != "" {
		i := slices.IndexFunc(units, func(u *unitSeries) bool { return u.unit == unit })
		if i < 0 {
			return nil
		}
		units = units[i : i+1]
	}
	if len(units) == 1 {
		u := units[0]
		u.scan(level, first, end.Unix(), p, len(quantiles) > 0, func(t int64, agg StatSet, d dist) {
			fn(datapoint(t, u.unit, agg, d, quantiles))
		})
		return nil
	}
	// Several units: merged period by period (rare).
	type acc struct {
		stats StatSet
		dist  dist
	}
	byPeriod := map[int64]*acc{}
	for _, u := range units {
		u.scan(level, first, end.Unix(), p, len(quantiles) > 0, func(t int64, agg StatSet, d dist) {
			a := byPeriod[t]
			if a == nil {
				a = &acc{}
				byPeriod[t] = a
			}
			a.stats.Merge(agg)
			a.dist.merge(d)
		})
	}
	for _, t := range slices.Sorted(maps.Keys(byPeriod)) {
		fn(datapoint(t, "None", byPeriod[t].stats, byPeriod[t].dist, quantiles))
	}
	return nil
}

// plan rounds a query's start as Query describes and picks the resolution
// it reads.
func plan(start, now time.Time, period time.Duration) (first int64, level int, p int64, err error) {
	p = int64(period / time.Second)
	if p <= 0 || (p%60 != 0 && !slices.Contains([]int64{1, 5, 10, 20, 30}, p)) {
		return 0, 0, 0, ErrPeriod
	}
	first = start.Unix()
	switch age := now.Sub(start); {
	case p < 60:
		first -= mod(first, p)
	case age < 15*24*time.Hour:
		first -= mod(first, 60)
	case age < 63*24*time.Hour:
		first -= mod(first, 300)
	default:
		first -= mod(first, 3600)
	}
	for i := len(resolutions) - 1; i >= 0; i-- {
		r := resolutions[i]
		if p%r.step == 0 && mod(first, r.step) == 0 && (i == 0 || !start.Before(now.Add(-r.retention))) {
			return first, i, p, nil
		}
	}
	return first, 0, p, nil
}

// scan merges the level's buckets from first to stop into their periods of
// p seconds (the level's step divides p and first is aligned to it) and
// hands each period with data to emit, in time order; dists says whether
// the distributions are wanted (for percentiles).
func (u *unitSeries) scan(level int, first, stop, p int64, dists bool, emit func(t int64, agg StatSet, d dist)) {
	tl := &u.buckets[level]
	cur := first
	var agg StatSet
	var d dist
	flush := func() {
		if agg.SampleCount > 0 {
			emit(cur, agg, d)
		}
	}
	for i := tl.from(first); i < tl.len() && tl.starts[i] < stop; i++ {
		if t := first + (tl.starts[i]-first)/p*p; t != cur {
			flush()
			cur, agg, d = t, StatSet{}, dist{}
		}
		b := &tl.buckets[i]
		agg.Merge(b.stats)
		if dists {
			d.merge(b.dist)
		}
	}
	flush()
}

// datapoint is a period's aggregate with the quantiles asked for. A period
// with a negative value has no percentiles: CloudWatch documents that
// percentile statistics are not available for metrics with negative values.
func datapoint(t int64, unit string, agg StatSet, d dist, quantiles []float64) Datapoint {
	dp := Datapoint{Timestamp: time.Unix(t, 0).UTC(), Unit: unit, Stats: agg}
	if agg.Minimum < 0 {
		return dp
	}
	for _, q := range quantiles {
		if v, ok := d.quantile(q); ok {
			if dp.Percentiles == nil {
				dp.Percentiles = map[float64]float64{}
			}
			dp.Percentiles[q] = v
		}
	}
	return dp
}

// List returns the series with data since a time (ListMetrics: the last two
// weeks, or three hours with RecentlyActive), filtered by namespace, metric
// name and dimensions (a dimension without a value matches any value),
// sorted by ID.
func (s *Store) List(namespace, metricName string, dims []Dimension, since time.Time) []Series {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cutoff := since.Unix() - 59 // the minute bucket holding since
	var out []Series
	for _, ser := range s.series {
		if namespace != "" && ser.Namespace != namespace || metricName != "" && ser.MetricName != metricName {
			continue
		}
		if !hasDims(ser.Dimensions, dims) {
			continue
		}
		if slices.ContainsFunc(ser.units, func(u *unitSeries) bool {
			tl := &u.buckets[1]
			return tl.len() > 0 && tl.starts[tl.len()-1] >= cutoff
		}) {
			out = append(out, ser.Series)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

func hasDims(have, want []Dimension) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(d Dimension) bool { return d.Name == w.Name && (w.Value == "" || d.Value == w.Value) }) {
			return false
		}
	}
	return true
}

// Len returns the number of series.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.series)
}
