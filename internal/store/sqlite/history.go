package sqlite

import (
	"context"
	"time"

	"github.com/ebbscale/ebb/internal/store"
)

// AddHistory appends alarm history items.
func (s *SQLite) AddHistory(ctx context.Context, items []store.HistoryItem) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, h := range items {
		if _, err := tx.ExecContext(ctx, "INSERT INTO alarm_history(alarm, ts, type, summary, data) VALUES (?, ?, ?, ?, CAST(? AS TEXT))",
			h.Alarm, h.Timestamp.UnixNano(), h.Type, h.Summary, h.Data); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// History returns history items in [start, end), newest first; alarm and
// typ filter when not empty.
func (s *SQLite) History(ctx context.Context, alarm, typ string, start, end time.Time) ([]store.HistoryItem, error) {
	q := "SELECT alarm, ts, type, summary, data FROM alarm_history WHERE ts >= ? AND ts < ?"
	args := []any{start.UnixNano(), end.UnixNano()}
	if alarm != "" {
		q += " AND alarm = ?"
		args = append(args, alarm)
	}
	if typ != "" {
		q += " AND type = ?"
		args = append(args, typ)
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY ts DESC, seq DESC", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.HistoryItem
	for rows.Next() {
		var h store.HistoryItem
		var ts int64
		if err := rows.Scan(&h.Alarm, &ts, &h.Type, &h.Summary, &h.Data); err != nil {
			return nil, err
		}
		h.Timestamp = time.Unix(0, ts).UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// PruneHistory deletes history older than a time.
func (s *SQLite) PruneHistory(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM alarm_history WHERE ts < ?", before.UnixNano())
	return err
}
