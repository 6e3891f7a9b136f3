package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver

	"github.com/ebbscale/ebb/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// SQLite is the embedded store: one database file, every write committed
// (WAL, synchronous=FULL) before the API answers, so nothing accepted is
// lost in a crash; the schema is migrated forward on Open from the SQL files
// embedded in migrations/.
type SQLite struct {
	db *sql.DB
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*SQLite, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection serialises writers; SQLite allows one writer anyway and
	// this avoids SQLITE_BUSY under concurrent API calls.
	db.SetMaxOpenConns(1)
	s := &SQLite{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

func (s *SQLite) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	ms, err := store.Migrations(migrations, "migrations")
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Version <= version {
			continue
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Create stores a new document; store.ErrExists if kind/name is taken (any case).
func (s *SQLite) Create(ctx context.Context, kind, name string, created time.Time, doc []byte) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO resources(kind, name, created, doc) VALUES (?, ?, ?, ?)",
		kind, name, created.UnixNano(), doc)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return store.ErrExists
	}
	return err
}

// Update replaces an existing document; store.ErrNotFound if there is none.
func (s *SQLite) Update(ctx context.Context, kind, name string, doc []byte) error {
	res, err := s.db.ExecContext(ctx, "UPDATE resources SET doc = ? WHERE kind = ? AND name = ?", doc, kind, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Upsert creates or replaces documents in one transaction.
func (s *SQLite) Upsert(ctx context.Context, kind string, docs []store.Doc) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, d := range docs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO resources(kind, name, created, doc) VALUES (?, ?, ?, ?)
			ON CONFLICT(kind, name) DO UPDATE SET doc = excluded.doc`, kind, d.Name, d.Created.UnixNano(), d.Doc); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Get returns one document.
func (s *SQLite) Get(ctx context.Context, kind, name string) ([]byte, error) {
	var doc []byte
	err := s.db.QueryRowContext(ctx, "SELECT doc FROM resources WHERE kind = ? AND name = ?", kind, name).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return doc, err
}

// Delete removes one document; store.ErrNotFound if there is none.
func (s *SQLite) Delete(ctx context.Context, kind, name string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM resources WHERE kind = ? AND name = ?", kind, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// List returns every document of a kind, oldest first.
func (s *SQLite) List(ctx context.Context, kind string) ([][]byte, error) {
	return docs(s.db.QueryContext(ctx, "SELECT doc FROM resources WHERE kind = ? ORDER BY created, name", kind))
}

// Each calls fn with every document of a kind, oldest first, one at a
// time, so that a list page never holds every document in memory. doc is
// valid only during the call.
func (s *SQLite) Each(ctx context.Context, kind string, fn func(doc []byte) error) error {
	rows, err := s.db.QueryContext(ctx, "SELECT doc FROM resources WHERE kind = ? ORDER BY created, name", kind)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var doc sql.RawBytes
		if err := rows.Scan(&doc); err != nil {
			return err
		}
		if err := fn(doc); err != nil {
			return err
		}
	}
	return rows.Err()
}

// docs reads a query's single doc column.
func docs(rows *sql.Rows, err error) ([][]byte, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		out = append(out, doc)
	}
	return out, rows.Err()
}

// AddTags adds or overwrites tags on arn.
func (s *SQLite) AddTags(ctx context.Context, arn string, tags []store.Tag) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var seq int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM tags WHERE arn = ?", arn).Scan(&seq); err != nil {
		return err
	}
	for _, t := range tags {
		seq++
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO tags(arn, key, value, seq) VALUES (?, ?, ?, ?) ON CONFLICT(arn, key) DO UPDATE SET value = excluded.value",
			arn, t.Key, t.Value, seq); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// DeleteTags removes the given keys from arn (absent keys are ignored).
func (s *SQLite) DeleteTags(ctx context.Context, arn string, keys []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, "DELETE FROM tags WHERE arn = ? AND key = ?", arn, k); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Tags returns the tags on arn in the order they were first added.
func (s *SQLite) Tags(ctx context.Context, arn string) ([]store.Tag, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT key, value FROM tags WHERE arn = ? ORDER BY seq", arn)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Tag{}
	for rows.Next() {
		var t store.Tag
		if err := rows.Scan(&t.Key, &t.Value); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

var _ store.Store = (*SQLite)(nil)
