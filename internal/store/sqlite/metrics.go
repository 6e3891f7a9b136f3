package sqlite

import (
	"encoding/json"

	"github.com/ebbscale/ebb/internal/metrics"
)

// SaveBuckets upserts metric buckets in one transaction.
func (s *SQLite) SaveBuckets(bs []metrics.PersistedBucket) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare(`INSERT INTO metric_buckets(series, doc, unit, step, start, count, sum, min, max, sketch)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(series, unit, step, start) DO UPDATE SET count = excluded.count,
		sum = excluded.sum, min = excluded.min, max = excluded.max, sketch = excluded.sketch`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, b := range bs {
		doc, err := json.Marshal(b.Series)
		if err != nil {
			return err
		}
		if _, err := stmt.Exec(b.Series.ID(), doc, b.Unit, b.Step, b.Start,
			b.Stats.SampleCount, b.Stats.Sum, b.Stats.Minimum, b.Stats.Maximum, b.Sketch); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// LoadBuckets calls f for every stored metric bucket.
func (s *SQLite) LoadBuckets(f func(metrics.PersistedBucket) error) error {
	rows, err := s.db.Query(`SELECT doc, unit, step, start, count, sum, min, max, sketch FROM metric_buckets`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b metrics.PersistedBucket
		var doc []byte
		if err := rows.Scan(&doc, &b.Unit, &b.Step, &b.Start, &b.Stats.SampleCount, &b.Stats.Sum, &b.Stats.Minimum, &b.Stats.Maximum, &b.Sketch); err != nil {
			return err
		}
		if err := json.Unmarshal(doc, &b.Series); err != nil {
			return err
		}
		if err := f(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PruneBuckets deletes buckets of one resolution that end before a time.
func (s *SQLite) PruneBuckets(step, before int64) error {
	_, err := s.db.Exec(`DELETE FROM metric_buckets WHERE step = ? AND start + step <= ?`, step, before)
	return err
}

var _ metrics.Persister = (*SQLite)(nil)
