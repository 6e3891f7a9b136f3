package postgres

import (
	"context"

	"github.com/ebbscale/ebb/internal/metrics"
)

// SendMetrics queues a batch of metrics a follower measured for the leader
// (a follower has no fencing epoch: its sends are never refused).
func (s *Postgres) SendMetrics(ctx context.Context, doc []byte) error {
	_, err := s.exec(ctx, "INSERT INTO metric_inbox(doc) VALUES ($1)", doc)
	return err
}

// PendingMetrics returns up to limit of the oldest queued batches, oldest
// first. They stay queued until SaveBucketsAck removes them with the
// buckets that hold their points.
func (s *Postgres) PendingMetrics(ctx context.Context, limit int) ([]metrics.Batch, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, doc FROM metric_inbox ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []metrics.Batch
	for rows.Next() {
		var b metrics.Batch
		if err := rows.Scan(&b.Seq, &b.Doc); err != nil {
			return nil, unavailable(err)
		}
		out = append(out, b)
	}
	return out, unavailable(rows.Err())
}
