package metrics

import (
	"fmt"
	"slices"
	"sync"
)

// Held puts a producer's own measurements (ebb's emitter, the async
// queue's) into a store that may fail (PostgreSQL down): a Put that fails
// stores nothing (see Store.Put), so Held keeps its points and puts them
// again, first, with the next ones, up to maxHeld puts (ten minutes of a
// second's points); beyond that the oldest are dropped, and counted.
type Held struct {
	Store interface{ Put([]Point) error }

	mu      sync.Mutex
	held    [][]Point
	dropped int
}

// maxHeld bounds the puts Held keeps while the store fails.
const maxHeld = 600

// Put stores the points after those still held.
func (h *Held) Put(points []Point) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, points)
	if n := len(h.held) - maxHeld; n > 0 {
		h.held, h.dropped = h.held[n:], h.dropped+n
	}
	if err := h.Store.Put(slices.Concat(h.held...)); err != nil {
		return fmt.Errorf("storing metrics (%d puts held for the next try, %d dropped so far): %w", len(h.held), h.dropped, err)
	}
	h.held = nil
	return nil
}
