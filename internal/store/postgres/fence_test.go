package postgres

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/postgres/pgtest"
)

// TestPostgresFencing: once a newer leader has raised the epoch, the old
// leader's writes are refused (and it is told to stop); the new leader's
// go through.
func TestPostgresFencing(t *testing.T) {
	dsn := pgtest.Shared(t).Database(t)
	ctx := context.Background()
	open := func() *Postgres {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	old, next := open(), open()
	if e, err := old.Fence(ctx, "old"); err != nil || e != 1 {
		t.Fatalf("Fence = %d, %v", e, err)
	}
	if err := old.Create(ctx, "model", "a", time.Now(), []byte(`{}`)); err != nil {
		t.Fatalf("the leader's write: %v", err)
	}
	if e, err := next.Fence(ctx, "next"); err != nil || e != 2 {
		t.Fatalf("the next leader's Fence = %d, %v", e, err)
	}
	for name, write := range map[string]func() error{
		"Create": func() error { return old.Create(ctx, "model", "b", time.Now(), []byte(`{}`)) },
		"Update": func() error { return old.Update(ctx, "model", "a", []byte(`{"late":true}`)) },
		"PutActivities": func() error {
			return old.PutActivities(ctx, []store.ActivityDoc{{ID: "id", Target: "t", Start: time.Now(), Doc: []byte(`{}`)}})
		},
		"EnqueueAsync":   func() error { _, err := old.EnqueueAsync(ctx, "ep", []byte(`{}`)); return err },
		"SaveBucketsAck": func() error { return old.SaveBucketsAck(nil, []int64{1}) },
		// The check before a write to the Kubernetes API.
		"CheckFence": func() error { return old.CheckFence(ctx) },
	} {
		err := write()
		if !errors.Is(err, ErrFenced) {
			t.Errorf("the deposed leader's %s = %v, want ErrFenced", name, err)
		}
		// Every API answers it 503 ServiceUnavailable: the SDK retries,
		// and the retry reaches the new leader.
		if e := (awserr.Table{}).Map(err); e.Status != http.StatusServiceUnavailable || e.Code != "ServiceUnavailable" {
			t.Errorf("the deposed leader's %s answers %d %s, want 503 ServiceUnavailable", name, e.Status, e.Code)
		}
	}
	select {
	case <-old.Fenced():
	default:
		t.Fatal("the deposed leader was not told to stop")
	}
	if doc, _ := next.Get(ctx, "model", "a"); string(doc) != `{}` {
		t.Fatalf("a refused write changed the document: %s", doc)
	}
	if err := next.Update(ctx, "model", "a", []byte(`{"v":2}`)); err != nil {
		t.Fatalf("the new leader's write: %v", err)
	}
	if err := next.CheckFence(ctx); err != nil {
		t.Fatalf("the new leader's CheckFence: %v", err)
	}
}

// TestPostgresFenceOutwaitsAFrozenWriter: a leader frozen inside a write
// transaction (the fencing row held FOR SHARE, as every write holds it,
// and nothing more said) does not hold the next leader off: PostgreSQL
// ends the frozen transaction after its idle_in_transaction_session_timeout
// (here 1 s, set in the DSN as a user may; 5 s by default), the next Fence
// goes through, and the frozen writer, resumed, cannot commit.
func TestPostgresFenceOutwaitsAFrozenWriter(t *testing.T) {
	dsn := pgtest.Shared(t).Database(t)
	ctx := context.Background()
	frozen, err := Open(ctx, dsn+"&idle_in_transaction_session_timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer frozen.Close()
	next, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if _, err := frozen.Fence(ctx, "frozen"); err != nil {
		t.Fatal(err)
	}
	tx, err := frozen.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := frozen.check(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO resources(kind, key, name, created, doc) VALUES ('model', 'late', 'late', 0, '{}')"); err != nil {
		t.Fatal(err)
	}
	// Frozen here. The next leader's Fence waits for the row (lock_timeout
	// bounds each wait) until PostgreSQL ends the frozen transaction.
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if epoch, err := next.Fence(fctx, "next"); err != nil || epoch != 2 {
		t.Fatalf("the next leader's Fence = %d, %v; want 2", epoch, err)
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("the frozen writer's transaction committed after the next leader fenced")
	}
	if doc, err := next.Get(ctx, "model", "late"); err == nil {
		t.Fatalf("the frozen writer's row is there: %s", doc)
	}
}
