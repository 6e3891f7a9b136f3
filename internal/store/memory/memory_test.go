package memory

import (
	"testing"

	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{Open: func(*testing.T) store.Store { return New() }})
}
