package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key under which replicas migrate.
const migrationLock = 0x65626201 // "ebb" 1

// Postgres is the PostgreSQL store.
type Postgres struct {
	pool  *pgxpool.Pool
	held  *pgxpool.Conn // the connection holding LockExclusive's lock
	fence fencing
}

// Open connects to the database at dsn (a postgres:// URL or a key=value
// string), checks that it answers within the context, and migrates it.
func Open(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	cfg.MaxConns = 16
	cfg.ConnConfig = boundWaits(cfg.ConnConfig)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	s := &Postgres{pool: pool, fence: fencing{fenced: make(chan struct{})}}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("--store: cannot reach PostgreSQL at %s:%d (database %q, user %q): %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, cfg.ConnConfig.User, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("--store: migrating: %w", err)
	}
	return s, nil
}

// sessionSettings bound every wait of ebb's sessions (unless the DSN sets
// them): a replica frozen (SIGSTOP, a VM paused) or cut off inside a write
// transaction holds the fencing row FOR SHARE, and without a bound the next
// leader's Fence, and with it the whole control plane, would wait for as
// long as it stays frozen (for a partition, until TCP gives up: two hours
// by default). PostgreSQL ends such a transaction after
// idle_in_transaction_session_timeout, shorter than the Lease, so the row
// is free by the time another replica leads; lock_timeout bounds each wait
// for a row (Fence is retried, see cmd/ebb's fence); statement_timeout
// bounds a runaway statement; the keepalive settings let the server notice
// a client gone from the network.
var sessionSettings = map[string]string{
	"idle_in_transaction_session_timeout": "5s",
	"lock_timeout":                        "5s",
	"statement_timeout":                   "5min",
	"tcp_keepalives_idle":                 "5",
	"tcp_keepalives_interval":             "2",
	"tcp_keepalives_count":                "3",
	"tcp_user_timeout":                    "15000",
}

// ConnConfig parses a DSN into the connection settings ebb's sessions
// have (see sessionSettings): for tools and tests that act as an ebb
// session would.
func ConnConfig(dsn string) (*pgx.ConnConfig, error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return boundWaits(cc), nil
}

// boundWaits applies sessionSettings the DSN leaves unset, and TCP
// keepalives on ebb's side of the connections too.
func boundWaits(cc *pgx.ConnConfig) *pgx.ConnConfig {
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	for k, v := range sessionSettings {
		if _, set := cc.RuntimeParams[k]; !set {
			cc.RuntimeParams[k] = v
		}
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 5 * time.Second
	}
	d := &net.Dialer{Timeout: cc.ConnectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 2 * time.Second, Count: 3}}
	cc.DialFunc = d.DialContext
	return cc
}

// exclusiveLock is the advisory lock a process-runtime server holds for its
// whole life.
const exclusiveLock = 0x65626202

// LockExclusive makes this server the only one on the database until
// Close: a server on the process runtime owns local processes, and a second
// server would not see them. It fails at once if another holds the lock.
func (s *Postgres) LockExclusive(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return unavailable(err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", exclusiveLock).Scan(&ok); err != nil {
		conn.Release()
		return unavailable(err)
	}
	if !ok {
		conn.Release()
		return errors.New("--store: another ebb server on the process runtime already uses this database (its instances are local processes; run one server per database, or use --runtime kubernetes)")
	}
	s.held = conn // the session, and with it the lock, lasts until Close
	return nil
}

// Close closes the pool (and ends an exclusive lock).
func (s *Postgres) Close() error {
	if s.held != nil {
		s.held.Release()
		s.held = nil
	}
	s.pool.Close()
	return nil
}

func (s *Postgres) migrate(ctx context.Context) error {
	ms, err := store.Migrations(migrations, "migrations")
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Another replica may be migrating, and a migration may be slow: no
	// bound on this transaction's waits.
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"); err != nil {
		return err
	}
	var version int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&version); err != nil {
		return err
	}
	for _, m := range ms {
		if m.Version <= version {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations(version) VALUES ($1)", m.Version); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// unavailable marks errors that mean the database cannot be reached now
// (refused or broken connections, a server shutting down or starting,
// timeouts) as store.Unavailable; other errors pass unchanged.
func unavailable(err error) error {
	if err == nil || store.IsUnavailable(err) {
		return err
	}
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01-57P03: shutting down or
		// starting up.
		if strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P0") {
			return store.Unavailable(err)
		}
		return err
	case errors.As(err, &connErr), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), pgconn.SafeToRetry(err):
		return store.Unavailable(err)
	}
	if strings.Contains(err.Error(), "closed pool") || strings.Contains(err.Error(), "conn closed") {
		return store.Unavailable(err)
	}
	return err
}

// Create stores a new document; store.ErrExists if kind/name is taken (any case).
func (s *Postgres) Create(ctx context.Context, kind, name string, created time.Time, doc []byte) error {
	tag, err := s.exec(ctx, "INSERT INTO resources(kind, key, name, created, doc) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
		kind, strings.ToLower(name), name, created.UnixNano(), doc)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	return nil
}

// Update replaces an existing document; store.ErrNotFound if there is none.
func (s *Postgres) Update(ctx context.Context, kind, name string, doc []byte) error {
	tag, err := s.exec(ctx, "UPDATE resources SET doc = $1 WHERE kind = $2 AND key = $3", doc, kind, strings.ToLower(name))
	if err != nil {
		return unavailable(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Upsert creates or replaces documents in one transaction, sent as one
// batch (one round trip, however many documents).
func (s *Postgres) Upsert(ctx context.Context, kind string, docs []store.Doc) error {
	if len(docs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, d := range docs {
			batch.Queue(`INSERT INTO resources(kind, key, name, created, doc) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc`, kind, strings.ToLower(d.Name), d.Name, d.Created.UnixNano(), d.Doc)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// Get returns one document.
func (s *Postgres) Get(ctx context.Context, kind, name string) ([]byte, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, "SELECT doc FROM resources WHERE kind = $1 AND key = $2", kind, strings.ToLower(name)).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return doc, unavailable(err)
}

// Delete removes one document; store.ErrNotFound if there is none.
func (s *Postgres) Delete(ctx context.Context, kind, name string) error {
	tag, err := s.exec(ctx, "DELETE FROM resources WHERE kind = $1 AND key = $2", kind, strings.ToLower(name))
	if err != nil {
		return unavailable(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// List returns every document of a kind, oldest first.
func (s *Postgres) List(ctx context.Context, kind string) ([][]byte, error) {
	var out [][]byte
	err := s.Each(ctx, kind, func(doc []byte) error {
		out = append(out, append([]byte(nil), doc...))
		return nil
	})
	return out, err
}

// Each calls fn with every document of a kind, oldest first, one at a time.
func (s *Postgres) Each(ctx context.Context, kind string, fn func(doc []byte) error) error {
	rows, err := s.pool.Query(ctx, "SELECT doc FROM resources WHERE kind = $1 ORDER BY created, key", kind)
	if err != nil {
		return unavailable(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.RawValues()[0]); err != nil {
			return err
		}
	}
	return unavailable(rows.Err())
}

// AddTags adds or overwrites tags on arn.
func (s *Postgres) AddTags(ctx context.Context, arn string, tags []store.Tag) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var seq int64
		// The row lock orders concurrent writers of one ARN's tags.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", arn); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(seq), 0) FROM tags WHERE arn = $1", arn).Scan(&seq); err != nil {
			return err
		}
		for _, t := range tags {
			seq++
			if _, err := tx.Exec(ctx,
				"INSERT INTO tags(arn, key, value, seq) VALUES ($1, $2, $3, $4) ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
				arn, t.Key, t.Value, seq); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteTags removes the given keys from arn (absent keys are ignored).
func (s *Postgres) DeleteTags(ctx context.Context, arn string, keys []string) error {
	_, err := s.exec(ctx, "DELETE FROM tags WHERE arn = $1 AND key = ANY($2)", arn, keys)
	return unavailable(err)
}

// Tags returns the tags on arn in the order they were first added.
func (s *Postgres) Tags(ctx context.Context, arn string) ([]store.Tag, error) {
	rows, err := s.pool.Query(ctx, "SELECT key, value FROM tags WHERE arn = $1 ORDER BY seq", arn)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	out := []store.Tag{}
	for rows.Next() {
		var t store.Tag
		if err := rows.Scan(&t.Key, &t.Value); err != nil {
			return nil, unavailable(err)
		}
		out = append(out, t)
	}
	return out, unavailable(rows.Err())
}

// tx runs fn in a transaction, committed if fn succeeds.
func (s *Postgres) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback(ctx)
	if err := s.check(ctx, tx); err != nil {
		return unavailable(err)
	}
	if err := fn(tx); err != nil {
		return unavailable(err)
	}
	return unavailable(tx.Commit(ctx))
}

var _ store.Store = (*Postgres)(nil)
