package monitor

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/alarm"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/store"
)

// Tick is how often the loop wakes: high-resolution alarms are evaluated
// on every tick, the others on the first tick of each minute.
const Tick = 10 * time.Second

// Run evaluates alarms until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	prune := m.clock.Now()
	clock.Every(ctx, m.clock, Tick, func(now time.Time) {
		m.EvaluateAll(ctx, now)
		if now.Sub(prune) > time.Hour {
			prune = now
			store.Report(m.log, "alarms", "prune history", m.store.PruneHistory(ctx, now.Add(-HistoryRetention)))
		}
	})
}

// batchBytes is about how many bytes of documents (alarm states, history)
// the monitor writes at once.
const batchBytes = 1 << 20

// EvaluateAll evaluates every alarm that is due at now, and repeats the
// Auto Scaling actions of alarms that stay in their state.
func (m *Monitor) EvaluateAll(ctx context.Context, now time.Time) {
	defer m.deliver(ctx) // after the lock is released
	m.mu.Lock()
	defer m.mu.Unlock()
	// The states that changed are written in batches of about a MiB of
	// documents, before the round's history: thousands of alarms change
	// in a busy round. The batch's arrays are kept from round to round (a
	// store keeps no bytes it was given), which spares the collector a
	// busy round's worth of documents.
	states, docs := m.states[:0], m.docs[:0]
	write := func() {
		if len(states) == 0 {
			return
		}
		if err := m.store.Upsert(ctx, kindAlarmState, states); err != nil {
			m.log.Error("persisting alarm states", "alarms", len(states), "err", err)
		}
		clear(states) // an array that docs outgrew is not kept
		states, docs = states[:0], docs[:0]
	}
	for _, a := range m.evaluationOrder() {
		if m.evaluate(ctx, a, now) {
			if len(docs) >= batchBytes {
				write()
			}
			start := len(docs)
			docs = appendStateDoc(docs, a)
			states = append(states, store.Doc{Name: a.AlarmName, Created: now, Doc: docs[start:len(docs):len(docs)]})
		}
	}
	write()
	m.states, m.docs = states, docs
	m.flushHistory(ctx)
}

// evaluationOrder is the alarms by the series they read, then by period
// and longest range first (then by name), so that the alarms of one series
// (a target-tracking policy's two) are evaluated one after the other: the
// second finds the series' buckets in the CPU's cache, or its whole range
// already read (see lastRead). In the map's random order each read missed
// the cache (measured: a third of a 40,000-alarm round's reading). Callers
// hold m.mu.
func (m *Monitor) evaluationOrder() []*MetricAlarm {
	if m.order != nil && len(m.order) == len(m.alarms) {
		return m.order
	}
	m.order = make([]*MetricAlarm, 0, len(m.alarms))
	for _, a := range m.alarms {
		a.seriesID()
		m.order = append(m.order, a)
	}
	slices.SortFunc(m.order, func(a, b *MetricAlarm) int {
		return cmp.Or(strings.Compare(a.series.ID, b.series.ID), cmp.Compare(a.Period, b.Period),
			cmp.Compare(b.EvaluationPeriods, a.EvaluationPeriods), strings.Compare(a.AlarmName, b.AlarmName))
	})
	// The alarms of one series share a number, which tells lastRead that
	// they read the same series without comparing long IDs.
	for i, a := range m.order {
		a.seriesNo = i + 1
		if i > 0 && a.series.ID != "" && a.series.ID == m.order[i-1].series.ID {
			a.seriesNo = m.order[i-1].seriesNo
		}
	}
	return m.order
}

// due reports whether an alarm should be evaluated at now: high-resolution
// ones every 10 seconds, others once per minute.
func due(a *MetricAlarm, now time.Time) bool {
	if a.LastEvaluated.IsZero() {
		return true
	}
	step := int64(60)
	if a.Period < 60 {
		step = int64(Tick / time.Second)
	}
	// Whole steps since the epoch, as Truncate counts them (in integers:
	// this runs for every alarm on every tick).
	return floorDiv(now.Unix(), step) > floorDiv(a.LastEvaluated.Unix(), step)
}

// evaluate evaluates an alarm if it is due and reports whether its state
// changed in a way that must survive a restart: a transition. A repeated
// Auto Scaling action changes only LastActions in memory; after a restart
// (or on a new leader) the alarm repeats its action at its first
// evaluation, at most a minute earlier than it would have, and the policy's
// cooldowns decide as they would have then. Not storing the repeats spares
// a write per alarm in ALARM per minute (thousands in a busy round, each a
// PostgreSQL row when replicated).
func (m *Monitor) evaluate(ctx context.Context, a *MetricAlarm, now time.Time) bool {
	if !due(a, now) {
		return false
	}
	a.LastEvaluated = now
	cfg := a.config()
	points := m.points(a, cfg, now)
	r := alarm.Evaluate(cfg, a.StateValue, points, now)
	if r.State != a.StateValue {
		m.transition(ctx, a, r, now, newest(points, cfg.EvaluationPeriods))
		return true
	}
	if now.Sub(a.LastActions) >= time.Minute && m.repeats(a) {
		// Auto Scaling actions repeat every minute in the same state.
		m.runActions(ctx, a, now, true, newest(points, cfg.EvaluationPeriods))
	}
	return false
}

// newest is the newest datapoint of the last n periods of an evaluation
// range (see Action).
func newest(points []alarm.Point, n int) Action {
	for i := len(points) - 1; i >= 0 && i >= len(points)-n; i-- {
		if !points[i].Missing {
			return Action{Newest: points[i].Value, HasNewest: true}
		}
	}
	return Action{}
}

// points reads the evaluation range: the last Range() complete periods,
// into the monitor's scratch slice (valid until the next call; callers hold
// m.mu).
func (m *Monitor) points(a *MetricAlarm, cfg alarm.Config, now time.Time) []alarm.Point {
	period := cfg.Period
	end := now.Truncate(period)
	start := end.Add(-time.Duration(cfg.Range()) * period)
	out := slices.Grow(m.scratch[:0], cfg.Range())[:cfg.Range()]
	m.scratch = out
	for i := range out {
		out[i] = alarm.Point{Timestamp: start.Add(time.Duration(i) * period), Missing: true}
	}
	if len(a.Queries) > 0 {
		return m.queryPoints(a, out, start, end, now)
	}
	key, ok := a.metric()
	if !ok {
		return out
	}
	stat := a.Stat()
	a.seriesID()
	read := lastRead{series: a.seriesNo, period: period, stat: stat, unit: a.Unit, start: start, end: end, now: now}
	if !m.last.holds(read) {
		m.read, _ = metricquery.Append(m.read[:0], m.metrics, metricquery.MetricStat{Series: key, Period: period, Stat: stat, Unit: a.Unit}, &a.series, start, end, now)
		m.last = read
	}
	first, step := start.Unix(), int64(period/time.Second)
	for _, dp := range m.read {
		if i := int((dp.Timestamp.Unix() - first) / step); i >= 0 && i < len(out) {
			out[i] = alarm.Point{Timestamp: dp.Timestamp, Value: dp.Value, SampleCount: dp.SampleCount}
		}
	}
	return out
}

// lastRead is what the monitor last read into m.read: one statistic of
// one series (its number in the evaluation order) over [start, end) at now.
type lastRead struct {
	series          int
	stat, unit      string
	period          time.Duration
	start, end, now time.Time
}

// holds reports whether the read r is within l, so that its datapoints
// are among l's: the other alarm of a target-tracking policy reads a
// shorter range of the same metric right after the first (see
// evaluationOrder). Both ranges must start within three hours (the finest
// resolution's retention), where the store reads them at the same
// resolution.
func (l lastRead) holds(r lastRead) bool {
	return l.series != 0 && l.series == r.series && l.period == r.period && l.now.Equal(r.now) && l.end.Equal(r.end) &&
		!r.start.Before(l.start) && r.now.Sub(l.start) <= 3*time.Hour && l.stat == r.stat && l.unit == r.unit
}

// queryPoints evaluates a metric-math alarm: the one query that returns data.
func (m *Monitor) queryPoints(a *MetricAlarm, out []alarm.Point, start, end, now time.Time) []alarm.Point {
	res, err := metricquery.Run(m.metrics, a.Queries, start, end, now)
	if err != nil {
		m.log.Warn("evaluating alarm expression", "alarm", a.AlarmName, "err", err)
		return out
	}
	for _, r := range res {
		if !r.ReturnData {
			continue
		}
		for i, ts := range r.Timestamps {
			j := int(ts.Sub(start) / (time.Duration(a.Period) * time.Second))
			if j >= 0 && j < len(out) && !math.IsNaN(r.Values[i]) {
				out[j] = alarm.Point{Timestamp: ts, Value: r.Values[i], SampleCount: 1}
			}
		}
	}
	return out
}

// seriesID makes the ID of the series an alarm watches, once ("" for a
// metric-math alarm).
func (a *MetricAlarm) seriesID() string {
	if key, ok := a.metric(); ok && a.series.ID == "" {
		a.series.ID = key.Normalize().ID()
	}
	return a.series.ID
}

// metric returns the series an alarm watches: its metric, or the single
// metric of a Metrics list with one MetricStat.
func (a *MetricAlarm) metric() (metrics.Series, bool) {
	if a.MetricName != "" {
		return metrics.Series{Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions}, true
	}
	return metrics.Series{}, false
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}
