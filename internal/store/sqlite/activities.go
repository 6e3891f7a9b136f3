package sqlite

import (
	"context"
	"time"

	"github.com/ebbscale/ebb/internal/store"
)

// PutActivities inserts or replaces scaling activities in one transaction.
func (s *SQLite) PutActivities(ctx context.Context, as []store.ActivityDoc) error {
	if len(as) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO scaling_activities(id, target, start, doc) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, a := range as {
		if _, err := stmt.ExecContext(ctx, a.ID, a.Target, a.Start.UnixNano(), a.Doc); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Activities returns the activities of targets whose key starts with
// prefix, newest first.
func (s *SQLite) Activities(ctx context.Context, prefix string, since time.Time) ([][]byte, error) {
	return docs(s.db.QueryContext(ctx, "SELECT doc FROM scaling_activities WHERE substr(target, 1, ?) = ? AND start >= ? ORDER BY start DESC, rowid DESC",
		len(prefix), prefix, store.SinceNanos(since)))
}

// PruneActivities deletes activities that started before a time.
func (s *SQLite) PruneActivities(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM scaling_activities WHERE start < ?", before.UnixNano())
	return err
}
