package hosting

import (
	"context"
	"sync"

	"github.com/ebbscale/ebb/internal/runtime"
)

// group is one instance of a model of several containers: a runtime
// instance per container, ready when all are, ended when any ends (the
// others are then stopped), as one SageMaker instance runs every container
// of its model.
type group struct {
	id        string
	members   []runtime.Instance
	hostnames []string
	ready     chan struct{}
	done      chan struct{}

	mu  sync.Mutex
	err error
}

func newGroup(id string, members []runtime.Instance, hostnames []string) *group {
	g := &group{id: id, members: members, hostnames: hostnames, ready: make(chan struct{}), done: make(chan struct{})}
	go g.watch()
	return g
}

func (g *group) watch() {
	ended := make(chan runtime.Instance, len(g.members))
	for _, m := range g.members {
		go func() { <-m.Done(); ended <- m }()
	}
	readyAll := make(chan struct{})
	go func() {
		for _, m := range g.members {
			select {
			case <-m.Ready():
			case <-g.done:
				return
			}
		}
		close(readyAll)
	}()
	select {
	case <-readyAll:
		close(g.ready)
		first := <-ended
		g.end(first)
	case first := <-ended:
		g.end(first)
	}
}

// end records why the first member ended and stops the others.
func (g *group) end(first runtime.Instance) {
	g.mu.Lock()
	g.err = first.Err()
	g.mu.Unlock()
	g.Stop(context.Background())
	close(g.done)
}

func (g *group) ID() string             { return g.id }
func (g *group) Addr() string           { return g.members[0].Addr() }
func (g *group) Ready() <-chan struct{} { return g.ready }
func (g *group) Done() <-chan struct{}  { return g.done }

func (g *group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Stop stops every container and waits for them.
func (g *group) Stop(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, m := range g.members {
		wg.Add(1)
		go func() { defer wg.Done(); m.Stop(ctx) }()
	}
	wg.Wait()
	return nil
}

// Stats sums the containers' usage, as SageMaker's instance metrics sum
// the primary and supplementary containers.
func (g *group) Stats() (runtime.Stats, error) {
	var out runtime.Stats
	for i, m := range g.members {
		st, err := m.Stats()
		if err != nil {
			return runtime.Stats{}, err
		}
		if i == 0 {
			out = st
			continue
		}
		out.CPUTime += st.CPUTime
		out.MemoryBytes += st.MemoryBytes
		out.DiskBytes += st.DiskBytes
		out.DiskPercent = max(out.DiskPercent, st.DiskPercent)
		out.NoUsage = out.NoUsage || st.NoUsage
		out.NoDisk = out.NoDisk || st.NoDisk
		out.GPU = nil // per container GPU figures are not summed
	}
	return out, nil
}
