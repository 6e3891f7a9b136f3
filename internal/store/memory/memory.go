// Package memory is the store contract in memory: for tests and benchmarks
// that should measure ebb rather than a disk, and as the reference the
// conformance suite (storetest) holds every backend to. Nothing survives
// the process.
package memory

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/store"
)

// Store keeps everything in maps behind one lock.
type Store struct {
	mu         sync.Mutex
	docs       map[string]doc // kind + "/" + lower(name)
	seq        int64          // insertion order, for equal creation times
	tags       map[string][]store.Tag
	history    []store.HistoryItem
	activities map[string]activity
	async      []store.AsyncRequest
	buckets    map[bucketKey]metrics.PersistedBucket
}

type doc struct {
	kind, name string
	created    time.Time
	seq        int64
	body       []byte
}

type activity struct {
	target string
	start  time.Time
	seq    int64
	body   []byte
}

type bucketKey struct {
	series, unit string
	step, start  int64
}

// New returns an empty store.
func New() *Store {
	return &Store{docs: map[string]doc{}, tags: map[string][]store.Tag{}, activities: map[string]activity{},
		buckets: map[bucketKey]metrics.PersistedBucket{}}
}

func key(kind, name string) string { return kind + "/" + strings.ToLower(name) }

func (s *Store) Create(_ context.Context, kind, name string, created time.Time, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.docs[key(kind, name)]; ok {
		return store.ErrExists
	}
	s.seq++
	s.docs[key(kind, name)] = doc{kind, name, created, s.seq, slices.Clone(body)}
	return nil
}

func (s *Store) Update(_ context.Context, kind, name string, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[key(kind, name)]
	if !ok {
		return store.ErrNotFound
	}
	d.body = slices.Clone(body)
	s.docs[key(kind, name)] = d
	return nil
}

func (s *Store) Upsert(_ context.Context, kind string, docs []store.Doc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range docs {
		old, ok := s.docs[key(kind, d.Name)]
		if ok {
			old.body = slices.Clone(d.Doc)
			s.docs[key(kind, d.Name)] = old
			continue
		}
		s.seq++
		s.docs[key(kind, d.Name)] = doc{kind, d.Name, d.Created, s.seq, slices.Clone(d.Doc)}
	}
	return nil
}

func (s *Store) Get(_ context.Context, kind, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[key(kind, name)]
	if !ok {
		return nil, store.ErrNotFound
	}
	return slices.Clone(d.body), nil
}

func (s *Store) Delete(_ context.Context, kind, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.docs[key(kind, name)]; !ok {
		return store.ErrNotFound
	}
	delete(s.docs, key(kind, name))
	return nil
}

func (s *Store) List(ctx context.Context, kind string) ([][]byte, error) {
	var out [][]byte
	err := s.Each(ctx, kind, func(b []byte) error { out = append(out, slices.Clone(b)); return nil })
	return out, err
}

func (s *Store) Each(_ context.Context, kind string, fn func([]byte) error) error {
	s.mu.Lock()
	var ds []doc
	for _, d := range s.docs {
		if d.kind == kind {
			ds = append(ds, d)
		}
	}
	s.mu.Unlock()
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].created.Equal(ds[j].created) {
			return ds[i].created.Before(ds[j].created)
		}
		return strings.ToLower(ds[i].name) < strings.ToLower(ds[j].name)
	})
	for _, d := range ds {
		if err := fn(d.body); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) AddTags(_ context.Context, arn string, tags []store.Tag) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	have := s.tags[arn]
	for _, t := range tags {
		if i := slices.IndexFunc(have, func(x store.Tag) bool { return x.Key == t.Key }); i >= 0 {
			have[i].Value = t.Value
		} else {
			have = append(have, t)
		}
	}
	s.tags[arn] = have
	return nil
}

func (s *Store) DeleteTags(_ context.Context, arn string, keys []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tags[arn] = slices.DeleteFunc(s.tags[arn], func(t store.Tag) bool { return slices.Contains(keys, t.Key) })
	return nil
}

func (s *Store) Tags(_ context.Context, arn string) ([]store.Tag, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tags[arn]), nil
}

func (s *Store) AddHistory(_ context.Context, items []store.HistoryItem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range items {
		it.Data = slices.Clone(it.Data)
		s.history = append(s.history, it)
	}
	return nil
}

func (s *Store) History(_ context.Context, alarm, typ string, start, end time.Time) ([]store.HistoryItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.HistoryItem
	for i := len(s.history) - 1; i >= 0; i-- {
		h := s.history[i]
		if (alarm == "" || h.Alarm == alarm) && (typ == "" || h.Type == typ) && !h.Timestamp.Before(start) && h.Timestamp.Before(end) {
			out = append(out, h)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp.After(out[j].Timestamp) })
	return out, nil
}

func (s *Store) PruneHistory(_ context.Context, before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = slices.DeleteFunc(s.history, func(h store.HistoryItem) bool { return h.Timestamp.Before(before) })
	return nil
}

func (s *Store) PutActivities(_ context.Context, as []store.ActivityDoc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range as {
		a, ok := s.activities[d.ID]
		if !ok {
			s.seq++
			a = activity{target: d.Target, start: d.Start, seq: s.seq}
		}
		a.body = slices.Clone(d.Doc)
		s.activities[d.ID] = a
	}
	return nil
}

func (s *Store) Activities(_ context.Context, prefix string, since time.Time) ([][]byte, error) {
	s.mu.Lock()
	var as []activity
	for _, a := range s.activities {
		if strings.HasPrefix(a.target, prefix) && !a.start.Before(since) {
			as = append(as, a)
		}
	}
	s.mu.Unlock()
	sort.Slice(as, func(i, j int) bool {
		if !as[i].start.Equal(as[j].start) {
			return as[i].start.After(as[j].start)
		}
		return as[i].seq > as[j].seq
	})
	out := make([][]byte, len(as))
	for i, a := range as {
		out[i] = a.body
	}
	return out, nil
}

func (s *Store) PruneActivities(_ context.Context, before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, a := range s.activities {
		if a.start.Before(before) {
			delete(s.activities, id)
		}
	}
	return nil
}

func (s *Store) EnqueueAsync(_ context.Context, endpoint string, body []byte) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := int64(len(s.async) + 1)
	s.async = append(s.async, store.AsyncRequest{Seq: seq, Endpoint: endpoint, State: "queued", Doc: slices.Clone(body)})
	return seq, nil
}

func (s *Store) UpdateAsync(_ context.Context, seq int64, state string, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < 1 || seq > int64(len(s.async)) {
		return nil // as an UPDATE that matches no row
	}
	s.async[seq-1].State, s.async[seq-1].Doc = state, slices.Clone(body)
	return nil
}

func (s *Store) OpenAsync(context.Context) ([]store.AsyncRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.AsyncRequest
	for _, r := range s.async {
		if r.State != store.AsyncDone {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *Store) SaveBuckets(bs []metrics.PersistedBucket) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range bs {
		b.Sketch = slices.Clone(b.Sketch)
		s.buckets[bucketKey{b.Series.ID(), b.Unit, b.Step, b.Start}] = b
	}
	return nil
}

func (s *Store) LoadBuckets(f func(metrics.PersistedBucket) error) error {
	s.mu.Lock()
	bs := make([]metrics.PersistedBucket, 0, len(s.buckets))
	for _, b := range s.buckets {
		bs = append(bs, b)
	}
	s.mu.Unlock()
	for _, b := range bs {
		if err := f(b); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) PruneBuckets(step, before int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.buckets {
		if k.step == step && k.start+step <= before {
			delete(s.buckets, k)
		}
	}
	return nil
}

// Close does nothing: there is nothing to release.
func (s *Store) Close() error { return nil }

var _ store.Store = (*Store)(nil)
