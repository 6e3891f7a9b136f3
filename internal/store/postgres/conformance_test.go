package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/postgres/pgtest"
	"github.com/ebbscale/ebb/internal/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

func TestPostgresConformance(t *testing.T) {
	pg := pgtest.Shared(t)
	dsns := map[store.Store]string{}
	open := func(t *testing.T, dsn string) store.Store {
		s, err := Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		dsns[s] = dsn
		return s
	}
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store { return open(t, pg.Database(t)) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			s.Close()
			return open(t, dsns[s])
		},
	})
}
