// Package storetest is the conformance suite of the store contract: every
// backend (sqlite, memory, and the ones to come) runs it from its own tests,
// so they all behave alike where ebb depends on it.
package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/store"
)

// Backend opens stores for the suite.
type Backend struct {
	// Open returns a new, empty store.
	Open func(t *testing.T) store.Store
	// Reopen closes s and opens the same data again, as a restart after a
	// crash would; nil for a backend that keeps nothing (memory).
	Reopen func(t *testing.T, s store.Store) store.Store
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	t.Run("Documents", func(t *testing.T) { documents(t, b) })
	t.Run("Tags", func(t *testing.T) { tags(t, b) })
	t.Run("History", func(t *testing.T) { history(t, b) })
	t.Run("Activities", func(t *testing.T) { activities(t, b) })
	t.Run("AsyncQueue", func(t *testing.T) { asyncQueue(t, b) })
	t.Run("Buckets", func(t *testing.T) { buckets(t, b) })
}

// mustOK fails the test at a call's error: the suite checks every call it
// makes, also those whose result it does not look at.
func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, b Backend) store.Store {
	s := b.Open(t)
	t.Cleanup(func() { s.Close() })
	return s
}

// reopen restarts the store when the backend persists; the second result
// is false (and s unchanged) when it does not.
func reopen(t *testing.T, b Backend, s store.Store) (store.Store, bool) {
	if b.Reopen == nil {
		return s, false
	}
	s = b.Reopen(t, s)
	t.Cleanup(func() { s.Close() })
	return s, true
}

func documents(t *testing.T, b Backend) {
	ctx := context.Background()
	s := open(t, b)
	must := func(err error) { t.Helper(); mustOK(t, err) }
	must(s.Create(ctx, "endpoint", "My-Ep", t0, []byte(`{"a":1}`)))
	if err := s.Create(ctx, "endpoint", "my-ep", t0, []byte(`{}`)); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a name that differs only in case: %v, want ErrExists (names compare as AWS compares them)", err)
	}
	must(s.Create(ctx, "model", "my-ep", t0, []byte(`{"kind":"model"}`))) // another kind, same name
	must(s.Update(ctx, "endpoint", "MY-EP", []byte(`{"a":2}`)))
	// Upsert replaces (whatever the case of the name, keeping the creation
	// time) and creates, at once.
	must(s.Upsert(ctx, "state", []store.Doc{{Name: "b", Created: t0.Add(time.Second), Doc: []byte(`{"b":1}`)}, {Name: "a", Created: t0, Doc: []byte(`{"a":1}`)}}))
	// The store keeps none of the bytes it was given: callers reuse them.
	reused := []byte(`{"a":2}{"c":1}`)
	must(s.Upsert(ctx, "state", []store.Doc{{Name: "A", Created: t0.Add(time.Hour), Doc: reused[:7]}, {Name: "c", Created: t0.Add(2 * time.Second), Doc: reused[7:]}}))
	copy(reused, `{"x":0}{"y":0}`)
	if got, err := s.List(ctx, "state"); err != nil || len(got) != 3 || string(got[0]) != `{"a":2}` || string(got[1]) != `{"b":1}` || string(got[2]) != `{"c":1}` {
		t.Fatalf("after two upserts: %q, want a (replaced, still oldest), b, c", got)
	}
	if err := s.Update(ctx, "endpoint", "nope", []byte(`{}`)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update of a missing document: %v, want ErrNotFound", err)
	}
	if d, err := s.Get(ctx, "endpoint", "my-EP"); err != nil || string(d) != `{"a":2}` {
		t.Fatalf("Get = %s, %v", d, err)
	}
	// List and Each: oldest first, then by name without regard to case.
	must(s.Create(ctx, "endpoint", "b", t0.Add(-time.Minute), []byte(`"b"`)))
	must(s.Create(ctx, "endpoint", "a", t0.Add(time.Minute), []byte(`"a"`)))
	must(s.Create(ctx, "endpoint", "c", t0, []byte(`"c"`)))
	want := []string{`"b"`, `"c"`, `{"a":2}`, `"a"`} // c < My-Ep
	all, err := s.List(ctx, "endpoint")
	if err != nil || len(all) != len(want) {
		t.Fatalf("List = %q, %v", all, err)
	}
	var each []string
	must(s.Each(ctx, "endpoint", func(d []byte) error { each = append(each, string(d)); return nil }))
	for i := range want {
		if string(all[i]) != want[i] || each[i] != want[i] {
			t.Fatalf("List = %q, Each = %q; want %q", all, each, want)
		}
	}
	stop := errors.New("stop")
	if err := s.Each(ctx, "endpoint", func([]byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Each does not return fn's error: %v", err)
	}
	s, persists := reopen(t, b, s)
	if persists {
		if d, err := s.Get(ctx, "endpoint", "my-ep"); err != nil || string(d) != `{"a":2}` {
			t.Fatalf("after reopening: %s, %v", d, err)
		}
	}
	must(s.Delete(ctx, "endpoint", "my-ep"))
	if _, err := s.Get(ctx, "endpoint", "my-ep"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "endpoint", "my-ep"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete twice: %v, want ErrNotFound", err)
	}
	if d, err := s.Get(ctx, "model", "my-ep"); err != nil || string(d) != `{"kind":"model"}` {
		t.Fatalf("a document of another kind went with it: %s, %v", d, err)
	}
}

func tags(t *testing.T, b Backend) {
	ctx := context.Background()
	s := open(t, b)
	mustOK(t, s.AddTags(ctx, "arn:x", []store.Tag{{Key: "k1", Value: "v1"}, {Key: "k2", Value: "v2"}, {Key: "k3", Value: "v3"}}))
	mustOK(t, s.AddTags(ctx, "arn:x", []store.Tag{{Key: "k1", Value: "v1b"}, {Key: "k4", Value: "v4"}}))
	if err := s.DeleteTags(ctx, "arn:x", []string{"k2", "nope"}); err != nil {
		t.Fatal(err)
	}
	mustOK(t, s.AddTags(ctx, "arn:y", []store.Tag{{Key: "other", Value: "arn"}}))
	s, _ = reopen(t, b, s)
	got, err := s.Tags(ctx, "arn:x")
	want := []store.Tag{{Key: "k1", Value: "v1b"}, {Key: "k3", Value: "v3"}, {Key: "k4", Value: "v4"}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Tags = %v, %v; want %v (an overwritten key keeps its place)", got, err, want)
	}
	if none, err := s.Tags(ctx, "arn:none"); err != nil || len(none) != 0 {
		t.Fatalf("Tags of an untagged ARN = %v, %v", none, err)
	}
}

func history(t *testing.T, b Backend) {
	ctx := context.Background()
	s := open(t, b)
	item := func(alarm, typ string, at time.Duration, summary string) store.HistoryItem {
		return store.HistoryItem{Alarm: alarm, Type: typ, Timestamp: t0.Add(at), Summary: summary, Data: []byte("{}")}
	}
	if err := s.AddHistory(ctx, []store.HistoryItem{
		item("a", "StateUpdate", 0, "a0"), item("a", "Action", 0, "a0-action"), item("a", "StateUpdate", time.Minute, "a1"),
		item("b", "StateUpdate", 30*time.Second, "b0"), item("a", "ConfigurationUpdate", 2*time.Minute, "a2"),
	}); err != nil {
		t.Fatal(err)
	}
	s, _ = reopen(t, b, s)
	summaries := func(alarm, typ string, start, end time.Time) []string {
		hs, err := s.History(ctx, alarm, typ, start, end)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range hs {
			out = append(out, h.Summary)
		}
		return out
	}
	for _, tt := range []struct {
		name       string
		alarm, typ string
		start, end time.Time
		want       []string
	}{
		{"newest first, equal times in reverse order of adding", "a", "", t0, t0.Add(time.Hour), []string{"a2", "a1", "a0-action", "a0"}},
		{"by type", "a", "StateUpdate", t0, t0.Add(time.Hour), []string{"a1", "a0"}},
		{"start inclusive, end exclusive", "a", "", t0.Add(time.Minute), t0.Add(2 * time.Minute), []string{"a1"}},
		{"every alarm", "", "StateUpdate", t0, t0.Add(time.Hour), []string{"a1", "b0", "a0"}},
	} {
		if got := summaries(tt.alarm, tt.typ, tt.start, tt.end); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if err := s.PruneHistory(ctx, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := summaries("", "", t0, t0.Add(time.Hour)); !slices.Equal(got, []string{"a2", "a1"}) {
		t.Errorf("after pruning: %v", got)
	}
}

func activities(t *testing.T, b Backend) {
	ctx := context.Background()
	s := open(t, b)
	if err := s.PutActivities(ctx, []store.ActivityDoc{
		{ID: "1", Target: "sagemaker|endpoint/a/variant/v|dim", Start: t0, Doc: []byte(`"a1"`)},
		{ID: "2", Target: "sagemaker|endpoint/b/variant/v|dim", Start: t0.Add(time.Minute), Doc: []byte(`"b1"`)},
	}); err != nil {
		t.Fatal(err)
	}
	reused := []byte(`"a2""a1-done"`) // the store keeps none of these bytes
	mustOK(t, s.PutActivities(ctx, []store.ActivityDoc{
		{ID: "3", Target: "sagemaker|endpoint/a/variant/v|dim", Start: t0.Add(2 * time.Minute), Doc: reused[:4]},
		{ID: "1", Target: "sagemaker|endpoint/a/variant/v|dim", Start: t0, Doc: reused[4:]}, // replaced
	}))
	copy(reused, `"xx""xxxxxxx"`)
	s, _ = reopen(t, b, s)
	got := func(prefix string) []string {
		ds, err := s.Activities(ctx, prefix, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, string(d))
		}
		return out
	}
	if a := got("sagemaker|endpoint/a/"); !slices.Equal(a, []string{`"a2"`, `"a1-done"`}) {
		t.Errorf("by prefix, newest first: %v", a)
	}
	if all := got(""); len(all) != 3 {
		t.Errorf("every activity: %v", all)
	}
	if since, err := s.Activities(ctx, "", t0.Add(2*time.Minute)); err != nil || len(since) != 1 || string(since[0]) != `"a2"` {
		t.Errorf("since the second minute: %q, %v", since, err)
	}
	mustOK(t, s.PruneActivities(ctx, t0.Add(time.Minute)))
	if all := got(""); !slices.Equal(all, []string{`"a2"`, `"b1"`}) {
		t.Errorf("after pruning: %v", all)
	}
}

func asyncQueue(t *testing.T, b Backend) {
	ctx := context.Background()
	s := open(t, b)
	var seqs []int64
	for _, ep := range []string{"e1", "e2", "e1"} {
		seq, err := s.EnqueueAsync(ctx, ep, []byte(`{"ep":"`+ep+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		if len(seqs) > 0 && seq <= seqs[len(seqs)-1] {
			t.Fatalf("sequence numbers %v then %d: must increase", seqs, seq)
		}
		seqs = append(seqs, seq)
	}
	if err := s.UpdateAsync(ctx, seqs[0], "running", []byte(`{"running":true}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateAsync(ctx, seqs[1], store.AsyncDone, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	// What was accepted survives a crash: reopened, the queue holds every
	// request not done, oldest first, with its last state.
	s, _ = reopen(t, b, s)
	open, err := s.OpenAsync(ctx)
	if err != nil || len(open) != 2 || open[0].Seq != seqs[0] || open[1].Seq != seqs[2] {
		t.Fatalf("OpenAsync = %+v, %v", open, err)
	}
	if open[0].State != "running" || string(open[0].Doc) != `{"running":true}` || open[0].Endpoint != "e1" || open[1].State != "queued" {
		t.Fatalf("OpenAsync = %+v", open)
	}
	seq, err := s.EnqueueAsync(ctx, "e3", []byte(`{}`))
	if err != nil || seq <= seqs[2] {
		t.Fatalf("after reopening, sequence %d (%v) follows %d", seq, err, seqs[2])
	}
}

func buckets(t *testing.T, b Backend) {
	s := open(t, b)
	series := metrics.Series{Namespace: "AWS/SageMaker", MetricName: "Invocations", Dimensions: []metrics.Dimension{{Name: "EndpointName", Value: "e"}}}
	other := metrics.Series{Namespace: "App", MetricName: "M"}
	bucket := func(s metrics.Series, step, start int64, sum float64) metrics.PersistedBucket {
		return metrics.PersistedBucket{Series: s, Unit: "Count", Step: step, Start: start, Stats: metrics.StatSet{SampleCount: 1, Sum: sum, Minimum: sum, Maximum: sum}, Sketch: []byte{1, 2}}
	}
	if err := s.SaveBuckets([]metrics.PersistedBucket{bucket(series, 60, 0, 1), bucket(series, 60, 60, 2), bucket(series, 1, 0, 3), bucket(other, 60, 0, 4)}); err != nil {
		t.Fatal(err)
	}
	// Upsert: the same series, step and start replace the bucket (merged
	// by the metrics store before it saves).
	if err := s.SaveBuckets([]metrics.PersistedBucket{bucket(series, 60, 0, 10)}); err != nil {
		t.Fatal(err)
	}
	// The same bucket in another unit is another bucket: a unit belongs to
	// the points.
	seconds := bucket(series, 60, 0, 7)
	seconds.Unit = "Seconds"
	if err := s.SaveBuckets([]metrics.PersistedBucket{seconds}); err != nil {
		t.Fatal(err)
	}
	s, _ = reopen(t, b, s)
	load := func() map[string]float64 {
		out := map[string]float64{}
		if err := s.LoadBuckets(func(b metrics.PersistedBucket) error {
			name := b.Series.MetricName + "/" + time.Duration(b.Step*int64(time.Second)).String() + "/" + time.Unix(b.Start, 0).UTC().Format("15:04:05")
			if b.Unit != "Count" {
				name += "/" + b.Unit
			}
			out[name] = b.Stats.Sum
			if b.Unit != "Count" && b.Unit != "Seconds" || !slices.Equal(b.Sketch, []byte{1, 2}) || b.Series.ID() != series.ID() && b.Series.ID() != other.ID() {
				t.Errorf("bucket came back as %+v", b)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := load()
	if len(got) != 5 || got["Invocations/1m0s/00:00:00"] != 10 || got["Invocations/1m0s/00:00:00/Seconds"] != 7 || got["Invocations/1m0s/00:01:00"] != 2 || got["M/1m0s/00:00:00"] != 4 {
		t.Fatalf("LoadBuckets = %v", got)
	}
	// Prune: the buckets of one resolution that end by a time.
	if err := s.PruneBuckets(60, 60); err != nil {
		t.Fatal(err)
	}
	got = load()
	if len(got) != 2 || got["Invocations/1m0s/00:01:00"] != 2 || got["Invocations/1s/00:00:00"] != 3 {
		t.Fatalf("after PruneBuckets(60, 60): %v", got)
	}
}
