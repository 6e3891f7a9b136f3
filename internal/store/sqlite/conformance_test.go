package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	paths := map[store.Store]string{}
	open := func(t *testing.T, path string) store.Store {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		paths[s] = path
		return s
	}
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store { return open(t, filepath.Join(t.TempDir(), "ebb.db")) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			s.Close()
			return open(t, paths[s])
		},
	})
}
