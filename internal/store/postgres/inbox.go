package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SendMetrics queues a batch of metrics a follower measured for the leader
// (a follower has no fencing epoch: its sends are never refused).
func (s *Postgres) SendMetrics(ctx context.Context, doc []byte) error {
	_, err := s.exec(ctx, "INSERT INTO metric_inbox(doc) VALUES ($1)", doc)
	return err
}

// TakeMetrics removes up to limit of the oldest queued batches and calls fn
// with each inside the removing transaction: if fn fails, or the
// transaction does before fn runs (a fenced write, PostgreSQL gone), the
// batches stay queued; a commit that fails after fn ran leaves them queued
// too, so they may be taken twice (at least once, never lost). FOR UPDATE
// SKIP LOCKED lets two takers (the leader and a deposed one not yet fenced)
// never take the same batch.
func (s *Postgres) TakeMetrics(ctx context.Context, limit int, fn func(doc []byte) error) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM metric_inbox WHERE seq IN
			(SELECT seq FROM metric_inbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING doc`, limit)
		if err != nil {
			return err
		}
		var docs [][]byte
		for rows.Next() {
			var doc []byte
			if err := rows.Scan(&doc); err != nil {
				rows.Close()
				return err
			}
			docs = append(docs, doc)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, doc := range docs {
			if err := fn(doc); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
