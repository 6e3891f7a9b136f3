package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/jackc/pgx/v5"
)

// AddHistory appends alarm history items in one transaction, sent as one
// batch.
func (s *Postgres) AddHistory(ctx context.Context, items []store.HistoryItem) error {
	if len(items) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, h := range items {
			batch.Queue("INSERT INTO alarm_history(alarm, ts, type, summary, data) VALUES ($1, $2, $3, $4, $5)",
				h.Alarm, h.Timestamp.UnixNano(), h.Type, h.Summary, h.Data)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// History returns history items in [start, end), newest first; alarm and
// typ filter when not empty.
func (s *Postgres) History(ctx context.Context, alarm, typ string, start, end time.Time) ([]store.HistoryItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT alarm, ts, type, summary, data FROM alarm_history
		WHERE ts >= $1 AND ts < $2 AND ($3 = '' OR alarm = $3) AND ($4 = '' OR type = $4) ORDER BY ts DESC, seq DESC`,
		start.UnixNano(), end.UnixNano(), alarm, typ)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []store.HistoryItem
	for rows.Next() {
		var h store.HistoryItem
		var ts int64
		if err := rows.Scan(&h.Alarm, &ts, &h.Type, &h.Summary, &h.Data); err != nil {
			return nil, unavailable(err)
		}
		h.Timestamp = time.Unix(0, ts).UTC()
		out = append(out, h)
	}
	return out, unavailable(rows.Err())
}

// PruneHistory deletes history older than a time.
func (s *Postgres) PruneHistory(ctx context.Context, before time.Time) error {
	_, err := s.exec(ctx, "DELETE FROM alarm_history WHERE ts < $1", before.UnixNano())
	return unavailable(err)
}

// PutActivities inserts or replaces scaling activities in one
// transaction, sent as one batch (a busy round records hundreds).
func (s *Postgres) PutActivities(ctx context.Context, as []store.ActivityDoc) error {
	if len(as) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, a := range as {
			batch.Queue("INSERT INTO scaling_activities(id, target, start, doc) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
				a.ID, a.Target, a.Start.UnixNano(), a.Doc)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// Activities returns the activities of targets whose key starts with
// prefix, newest first.
func (s *Postgres) Activities(ctx context.Context, prefix string, since time.Time) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, "SELECT doc FROM scaling_activities WHERE left(target, $1) = $2 AND start >= $3 ORDER BY start DESC, seq DESC",
		len([]rune(prefix)), prefix, store.SinceNanos(since))
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, unavailable(err)
		}
		out = append(out, doc)
	}
	return out, unavailable(rows.Err())
}

// PruneActivities deletes activities that started before a time.
func (s *Postgres) PruneActivities(ctx context.Context, before time.Time) error {
	_, err := s.exec(ctx, "DELETE FROM scaling_activities WHERE start < $1", before.UnixNano())
	return unavailable(err)
}

// EnqueueAsync stores a new request and returns its sequence number; the
// request is durable when this returns (the commit is synchronous).
func (s *Postgres) EnqueueAsync(ctx context.Context, endpoint string, doc []byte) (int64, error) {
	var seq int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "INSERT INTO async_requests(endpoint, state, doc) VALUES ($1, 'queued', $2) RETURNING seq", endpoint, doc).Scan(&seq)
	})
	return seq, err
}

// UpdateAsync changes a request's state and document.
func (s *Postgres) UpdateAsync(ctx context.Context, seq int64, state string, doc []byte) error {
	_, err := s.exec(ctx, "UPDATE async_requests SET state = $1, doc = $2 WHERE seq = $3", state, doc, seq)
	return unavailable(err)
}

// OpenAsync returns the requests not done, oldest first.
func (s *Postgres) OpenAsync(ctx context.Context) ([]store.AsyncRequest, error) {
	rows, err := s.pool.Query(ctx, "SELECT seq, endpoint, state, doc FROM async_requests WHERE state <> 'done' ORDER BY seq")
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []store.AsyncRequest
	for rows.Next() {
		var r store.AsyncRequest
		if err := rows.Scan(&r.Seq, &r.Endpoint, &r.State, &r.Doc); err != nil {
			return nil, unavailable(err)
		}
		out = append(out, r)
	}
	return out, unavailable(rows.Err())
}

// SaveBuckets upserts metric buckets in one transaction (a batch), in key
// order: two transactions that upsert the same rows then lock them in the
// same order, never deadlocking.
func (s *Postgres) SaveBuckets(bs []metrics.PersistedBucket) error { return s.SaveBucketsAck(bs, nil) }

// SaveBucketsAck is SaveBuckets that also removes the inbox batches acks
// (whose points the buckets hold) in the same transaction.
func (s *Postgres) SaveBucketsAck(bs []metrics.PersistedBucket, acks []int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type keyed struct {
		id string
		b  *metrics.PersistedBucket
	}
	sorted := make([]keyed, len(bs))
	for i := range bs {
		sorted[i] = keyed{bs[i].Series.ID(), &bs[i]}
	}
	slices.SortFunc(sorted, func(x, y keyed) int {
		return cmp.Or(strings.Compare(x.id, y.id), strings.Compare(x.b.Unit, y.b.Unit), cmp.Compare(x.b.Step, y.b.Step), cmp.Compare(x.b.Start, y.b.Start))
	})
	return s.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, k := range sorted {
			b := k.b
			doc, err := json.Marshal(b.Series)
			if err != nil {
				return err
			}
			batch.Queue(`INSERT INTO metric_buckets(series, doc, unit, step, start, count, sum, min, max, sketch)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (series, unit, step, start) DO UPDATE SET count = excluded.count,
				sum = excluded.sum, min = excluded.min, max = excluded.max, sketch = excluded.sketch`,
				[]byte(k.id), doc, b.Unit, b.Step, b.Start, b.Stats.SampleCount, b.Stats.Sum, b.Stats.Minimum, b.Stats.Maximum, b.Sketch)
		}
		if len(acks) > 0 {
			batch.Queue(`DELETE FROM metric_inbox WHERE seq = ANY($1)`, acks)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// LoadBuckets calls f for every stored metric bucket.
func (s *Postgres) LoadBuckets(f func(metrics.PersistedBucket) error) error {
	ctx := context.Background()
	rows, err := s.pool.Query(ctx, `SELECT doc, unit, step, start, count, sum, min, max, sketch FROM metric_buckets`)
	if err != nil {
		return unavailable(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b metrics.PersistedBucket
		var doc []byte
		if err := rows.Scan(&doc, &b.Unit, &b.Step, &b.Start, &b.Stats.SampleCount, &b.Stats.Sum, &b.Stats.Minimum, &b.Stats.Maximum, &b.Sketch); err != nil {
			return unavailable(err)
		}
		if err := json.Unmarshal(doc, &b.Series); err != nil {
			return err
		}
		if err := f(b); err != nil {
			return err
		}
	}
	return unavailable(rows.Err())
}

// PruneBuckets deletes buckets of one resolution that end before a time.
func (s *Postgres) PruneBuckets(step, before int64) error {
	_, err := s.exec(context.Background(), `DELETE FROM metric_buckets WHERE step = $1 AND start + step <= $2`, step, before)
	return unavailable(err)
}

var _ metrics.Persister = (*Postgres)(nil)
