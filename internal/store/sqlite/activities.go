package sqlite

import (
	"context"
	"time"
)

// PutActivity inserts or replaces a scaling activity.
func (s *SQLite) PutActivity(ctx context.Context, id, target string, start time.Time, doc []byte) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO scaling_activities(id, target, start, doc) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
		id, target, start.UnixNano(), doc)
	return err
}

// Activities returns the activities of targets whose key starts with
// prefix, newest first.
func (s *SQLite) Activities(ctx context.Context, prefix string) ([][]byte, error) {
	return docs(s.db.QueryContext(ctx, "SELECT doc FROM scaling_activities WHERE substr(target, 1, ?) = ? ORDER BY start DESC, rowid DESC", len(prefix), prefix))
}

// PruneActivities deletes activities that started before a time.
func (s *SQLite) PruneActivities(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM scaling_activities WHERE start < ?", before.UnixNano())
	return err
}
