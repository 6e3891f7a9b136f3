package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrFenced is a write refused because a newer leader has taken over. It
// is unavailable (store.Unavailable): the API answers 503, which SDKs
// retry, and the retry reaches the new leader; nothing was written.
var ErrFenced error = fencedError{}

type fencedError struct{}

func (fencedError) Error() string {
	return "store: refused: a newer leader holds the fencing epoch (this replica lost the lease; retry: the new leader answers)"
}
func (fencedError) Unavailable() bool { return true }

// lockNotAvailable is PostgreSQL's code for a lock_timeout that passed.
const lockNotAvailable = "55P03"

// fencing is the epoch this replica's writes carry (0: none).
type fencing struct {
	epoch  int64
	once   sync.Once
	fenced chan struct{} // closed at the first refused write
}

// Fence makes this replica the leader of the database: it raises the
// fencing epoch and from then on every write checks, in its own
// transaction, that the epoch is still this one (holding it FOR SHARE, so
// the next leader's Fence waits for writes in progress). It returns the
// epoch. While the row is held (each try waits at most the session's
// lock_timeout: a replica frozen inside a write holds it until PostgreSQL
// ends its transaction) or the database cannot be reached, it tries again
// until ctx ends; give ctx a deadline.
func (s *Postgres) Fence(ctx context.Context, holder string) (int64, error) {
	var epoch int64
	for {
		err := s.pool.QueryRow(ctx, `INSERT INTO leader_epoch(id, epoch, holder) VALUES (1, 1, $1)
			ON CONFLICT (id) DO UPDATE SET epoch = leader_epoch.epoch + 1, holder = excluded.holder RETURNING epoch`, holder).Scan(&epoch)
		if err == nil {
			break
		}
		var pgErr *pgconn.PgError
		if err = unavailable(err); !store.IsUnavailable(err) && !(errors.As(err, &pgErr) && pgErr.Code == lockNotAvailable) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(200 * time.Millisecond):
		}
	}
	s.fence.epoch = epoch
	return epoch, nil
}

// Fenced is closed once a write has been refused for a newer epoch: the
// replica must stop acting.
func (s *Postgres) Fenced() <-chan struct{} { return s.fence.fenced }

// CheckFence returns ErrFenced once a newer leader has raised the epoch: the
// check before a write elsewhere (the Kubernetes API) that cannot share the
// database's transaction. A Fence right after the check can still let one
// such write through: the window is one API call, not a frozen replica's
// whole pause.
func (s *Postgres) CheckFence(ctx context.Context) error {
	if s.fence.epoch == 0 {
		return nil
	}
	var epoch int64
	if err := s.pool.QueryRow(ctx, "SELECT epoch FROM leader_epoch WHERE id = 1").Scan(&epoch); err != nil {
		return unavailable(err)
	}
	if epoch != s.fence.epoch {
		s.fence.once.Do(func() { close(s.fence.fenced) })
		return ErrFenced
	}
	return nil
}

// check verifies, inside tx, that this replica's epoch is current.
func (s *Postgres) check(ctx context.Context, tx pgx.Tx) error {
	if s.fence.epoch == 0 {
		return nil
	}
	var epoch int64
	if err := tx.QueryRow(ctx, "SELECT epoch FROM leader_epoch WHERE id = 1 FOR SHARE").Scan(&epoch); err != nil {
		return err
	}
	if epoch != s.fence.epoch {
		s.fence.once.Do(func() { close(s.fence.fenced) })
		return ErrFenced
	}
	return nil
}

// exec runs one write, fenced when this replica has an epoch.
func (s *Postgres) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if s.fence.epoch == 0 {
		tag, err := s.pool.Exec(ctx, sql, args...)
		return tag, unavailable(err)
	}
	var tag pgconn.CommandTag
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		tag, err = tx.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}
