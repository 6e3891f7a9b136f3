package sqlite

import (
	"context"

	"github.com/ebbscale/ebb/internal/store"
)

// EnqueueAsync stores a new request and returns its sequence number; the
// request is durable when this returns.
func (s *SQLite) EnqueueAsync(ctx context.Context, endpoint string, doc []byte) (int64, error) {
	res, err := s.db.ExecContext(ctx, "INSERT INTO async_requests(endpoint, state, doc) VALUES (?, 'queued', ?)", endpoint, doc)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// UpdateAsync changes a request's state and document.
func (s *SQLite) UpdateAsync(ctx context.Context, seq int64, state string, doc []byte) error {
	_, err := s.db.ExecContext(ctx, "UPDATE async_requests SET state = ?, doc = ? WHERE seq = ?", state, doc, seq)
	return err
}

// OpenAsync returns the requests not done, oldest first.
func (s *SQLite) OpenAsync(ctx context.Context) ([]store.AsyncRequest, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT seq, endpoint, state, doc FROM async_requests WHERE state != 'done' ORDER BY seq")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AsyncRequest
	for rows.Next() {
		var r store.AsyncRequest
		if err := rows.Scan(&r.Seq, &r.Endpoint, &r.State, &r.Doc); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
