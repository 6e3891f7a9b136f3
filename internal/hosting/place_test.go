package hosting

import (
	"slices"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
)

// TestFirstFit: copies pack onto the oldest host with room; a copy that
// fits nowhere is not placed; accelerators are whole.
func TestFirstFit(t *testing.T) {
	m5 := runtime.InstanceType{Name: "ml.m5.xlarge", VCPUs: 4, MemoryMiB: 16384}
	g5 := runtime.InstanceType{Name: "ml.g5.2xlarge", VCPUs: 8, MemoryMiB: 32768, GPUs: 1}
	cpu := func(cores float64, mem int) Requirements {
		return Requirements{NumberOfCpuCoresRequired: cores, MinMemoryRequiredInMb: mem}
	}
	gpu := func(n float64) Requirements {
		return Requirements{NumberOfAcceleratorDevicesRequired: n, MinMemoryRequiredInMb: 1024}
	}
	for _, tc := range []struct {
		name  string
		rooms []room
		need  Requirements
		want  int
	}{
		{"the oldest host with room", []room{roomOn(m5, nil), roomOn(m5, nil)}, cpu(1, 1024), 0},
		{"packed: the oldest is full", []room{roomOn(m5, []Requirements{cpu(2, 1024), cpu(2, 1024)}), roomOn(m5, nil)}, cpu(1, 1024), 1},
		{"cores left exactly", []room{roomOn(m5, []Requirements{cpu(2.5, 1024)})}, cpu(1.5, 1024), 0},
		{"memory is the limit", []room{roomOn(m5, []Requirements{cpu(1, 16000)})}, cpu(1, 1024), -1},
		{"fits nowhere", []room{roomOn(m5, nil), roomOn(m5, nil)}, cpu(8, 1024), -1},
		{"no hosts", nil, cpu(1, 1), -1},
		{"a fraction of an accelerator takes a whole one", []room{roomOn(g5, []Requirements{gpu(0.5)}), roomOn(g5, nil)}, gpu(0.5), 1},
		{"no accelerator on a CPU instance", []room{roomOn(m5, nil)}, gpu(1), -1},
	} {
		if got := firstFit(tc.rooms, tc.need); got != tc.want {
			t.Errorf("%s: host %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestSizeHosts: a managed variant grows one instance at a time while
// copies wait and every host is healthy, up to its maximum; with none
// waiting its newest healthy hosts without copies go, down to its minimum.
func TestSizeHosts(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	h := func(ready, copies bool, age time.Duration) managedHost {
		return managedHost{Ready: ready, HasCopies: copies, Started: t0.Add(-age)}
	}
	for _, tc := range []struct {
		name            string
		desired, lo, hi int
		hosts           []managedHost
		waiting         int
		want            int
		stop            []int
	}{
		{"copies wait: one more", 2, 0, 4, []managedHost{h(true, true, 2), h(true, true, 1)}, 3, 3, nil},
		{"copies wait, a host still starting: not yet", 2, 0, 4, []managedHost{h(true, true, 2), h(false, false, 1)}, 1, 2, nil},
		{"copies wait at the maximum: no more", 4, 0, 4, []managedHost{h(true, true, 1), h(true, true, 1), h(true, true, 1), h(true, true, 1)}, 1, 4, nil},
		{"idle hosts go, the newest first", 3, 0, 4, []managedHost{h(true, false, 3), h(true, true, 2), h(true, false, 1)}, 0, 1, []int{2, 0}},
		{"down to the minimum only", 3, 2, 4, []managedHost{h(true, false, 3), h(true, false, 2), h(true, false, 1)}, 0, 2, []int{2}},
		{"a host still starting stays", 2, 0, 4, []managedHost{h(true, true, 3), h(false, false, 1)}, 0, 2, nil},
		{"every host has copies: all stay", 2, 0, 4, []managedHost{h(true, true, 3), h(true, true, 1)}, 0, 2, nil},
		{"no healthy host to remove: the count stays", 1, 0, 4, nil, 0, 1, nil},
	} {
		got, stop := sizeHosts(tc.desired, tc.lo, tc.hi, tc.hosts, tc.waiting)
		if got != tc.want || !slices.Equal(stop, tc.stop) {
			t.Errorf("%s: %d instances, stop %v; want %d, stop %v", tc.name, got, stop, tc.want, tc.stop)
		}
	}
}

// TestPlanCopies: the rules of copy placement, one case each, on hosts of
// 4 cores (two copies of 2 cores each fit on one).
func TestPlanCopies(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	m5 := runtime.InstanceType{Name: "ml.m5.xlarge", VCPUs: 4, MemoryMiB: 16384}
	two := Requirements{NumberOfCpuCoresRequired: 2, MinMemoryRequiredInMb: 1024}
	big := Requirements{NumberOfCpuCoresRequired: 8, MinMemoryRequiredInMb: 1024}
	comp := func(name string, copies int, opts ...func(*component)) component {
		c := component{Name: name, Variant: "v", Status: ComponentCreating, componentSpec: componentSpec{Needs: two, Generation: 1}, DesiredCopies: copies}
		for _, o := range opts {
			o(&c)
		}
		return c
	}
	status := func(s string) func(*component) { return func(c *component) { c.Status = s } }
	generation := func(g int) func(*component) { return func(c *component) { c.Generation = g } }
	needs := func(r Requirements) func(*component) { return func(c *component) { c.Needs = r } }
	// rolling is a rolling update in batches of one copy at batch step.
	rolling := func(step int) func(*component) {
		return func(c *component) {
			c.Status = ComponentUpdating
			c.Rollout = &copyRollout{Config: ComponentDeploymentConfig{RollingUpdatePolicy: &RollingUpdatePolicy{
				MaximumBatchSize: CapacitySize{Type: "COPY_COUNT", Value: 1}}}, Step: step}
		}
	}
	rolledBack := func(c *component) { c.Status, c.Generation, c.Discard = ComponentUpdating, 0, 1 }
	inBatches := func(c *component) { rolledBack(c); c.RollbackBatch = 1 }
	hosts := func(n int) []copyHost {
		out := make([]copyHost, n)
		for i := range out {
			out[i] = copyHost{Variant: "v", Size: m5}
		}
		return out
	}
	// cp is a ready copy of component a, generation 1, on host h, started
	// at minute m.
	cp := func(h, m int, opts ...func(*observedCopy)) observedCopy {
		c := observedCopy{Component: "a", Generation: 1, Host: h, Needs: two, Ready: true, Started: t0.Add(time.Duration(m) * time.Minute)}
		for _, o := range opts {
			o(&c)
		}
		return c
	}
	of := func(name string) func(*observedCopy) { return func(c *observedCopy) { c.Component = name } }
	starting := func(c *observedCopy) { c.Ready = false }
	gen0 := func(c *observedCopy) { c.Generation = 0 }
	gone := func(c *observedCopy) { c.HostGone = true }

	for _, tc := range []struct {
		name      string
		in        copiesInput
		stop      []int
		start     []copyStart
		inService []int
		remove    []int
		waiting   int
		reason    bool // component 0 gets a FailureReason
	}{
		{name: "copies pack onto the oldest host",
			in:    copiesInput{Components: []component{comp("a", 3)}, Hosts: hosts(2)},
			start: []copyStart{{0, 0}, {0, 0}, {0, 1}}},
		{name: "a second component takes the room the first left",
			in:    copiesInput{Components: []component{comp("a", 1), comp("b", 2)}, Hosts: hosts(2)},
			start: []copyStart{{0, 0}, {1, 0}, {1, 1}}},
		{name: "placed copies hold their room",
			in:    copiesInput{Components: []component{comp("a", 3)}, Hosts: hosts(2), Copies: []observedCopy{cp(0, 0), cp(0, 1)}},
			start: []copyStart{{0, 1}}},
		{name: "every copy runs and is ready: in service",
			in:        copiesInput{Components: []component{comp("a", 2)}, Hosts: hosts(1), Copies: []observedCopy{cp(0, 0), cp(0, 1)}},
			inService: []int{0}},
		{name: "a copy still starting: not yet",
			in: copiesInput{Components: []component{comp("a", 2)}, Hosts: hosts(1), Copies: []observedCopy{cp(0, 0), cp(0, 1, starting)}}},
		{name: "already in service: nothing to record",
			in: copiesInput{Components: []component{comp("a", 1, status(ComponentInService))}, Hosts: hosts(1), Copies: []observedCopy{cp(0, 0)}}},
		{name: "surplus: a starting copy goes first",
			in:        copiesInput{Components: []component{comp("a", 2)}, Hosts: hosts(2), Copies: []observedCopy{cp(0, 0), cp(0, 1, starting), cp(1, 2)}},
			stop:      []int{1},
			inService: []int{0}},
		{name: "surplus: then the newest",
			in:        copiesInput{Components: []component{comp("a", 1)}, Hosts: hosts(1), Copies: []observedCopy{cp(0, 5), cp(0, 1)}},
			stop:      []int{0},
			inService: []int{0}},
		{name: "a copy that fits nowhere waits for an instance",
			in:      copiesInput{Components: []component{comp("a", 1, needs(big))}, Hosts: hosts(2), CanGrow: map[string]bool{"v": true}},
			waiting: 1, reason: true},
		{name: "and settles with its reason when the variant cannot grow",
			in:      copiesInput{Components: []component{comp("a", 3)}, Hosts: hosts(1), Copies: []observedCopy{cp(0, 0), cp(0, 1)}},
			waiting: 1, reason: true, inService: []int{0}},
		{name: "rolling update: with no room an old copy makes way, for one new copy at a time",
			in:    copiesInput{Components: []component{comp("a", 2, generation(1))}, Hosts: hosts(1), Copies: []observedCopy{cp(0, 0, gen0), cp(0, 1, gen0)}},
			stop:  []int{0},
			start: []copyStart{{0, 0}}, waiting: 1, reason: true},
		{name: "rolling update: one copy at a time",
			in: copiesInput{Components: []component{comp("a", 2, generation(1))}, Hosts: hosts(1),
				Copies: []observedCopy{cp(0, 0, gen0), cp(0, 2, starting)}},
			waiting: 1, reason: true},
		{name: "rolling update: the new generation ready, the old goes",
			in: copiesInput{Components: []component{comp("a", 1, generation(1))}, Hosts: hosts(2),
				Copies: []observedCopy{cp(0, 0, gen0), cp(1, 2)}},
			stop: []int{0}, inService: []int{0}},
		{name: "batches: the first batch starts beside every old copy",
			in: copiesInput{Components: []component{comp("a", 4, rolling(0))}, Hosts: hosts(3),
				Copies: []observedCopy{cp(0, 0, gen0), cp(0, 1, gen0), cp(1, 2, gen0), cp(1, 3, gen0)}},
			start: []copyStart{{0, 2}}},
		{name: "batches: the next batch starts as an old copy goes",
			in: copiesInput{Components: []component{comp("a", 4, rolling(1))}, Hosts: hosts(3),
				Copies: []observedCopy{cp(0, 0, gen0), cp(0, 1, gen0), cp(1, 2, gen0), cp(1, 3, gen0), cp(2, 4)}},
			stop: []int{0}, start: []copyStart{{0, 0}}},
		{name: "batches: with no room an old copy makes way once the batch before is ready",
			in: copiesInput{Components: []component{comp("a", 2, rolling(0))}, Hosts: hosts(1),
				Copies: []observedCopy{cp(0, 0, gen0), cp(0, 1, gen0)}},
			stop: []int{0}, start: []copyStart{{0, 0}}},
		{name: "batches: the last batch ready, the old copy left stays until the bake ends the update",
			in: copiesInput{Components: []component{comp("a", 2, rolling(1))}, Hosts: hosts(2),
				Copies: []observedCopy{cp(0, 0, gen0), cp(0, 1), cp(1, 2)}}},
		{name: "rolled back: the discarded generation goes once a restored copy serves, the missing ones start at once",
			in: copiesInput{Components: []component{comp("a", 3, rolledBack)}, Hosts: hosts(2),
				Copies: []observedCopy{cp(0, 0, gen0), cp(0, 1), cp(1, 2)}},
			stop: []int{1, 2}, start: []copyStart{{0, 0}, {0, 1}}},
		{name: "rolled back: with no restored copy serving, the discarded one serves until one does",
			in: copiesInput{Components: []component{comp("a", 1, rolledBack)}, Hosts: hosts(2),
				Copies: []observedCopy{cp(0, 0, gen0, starting), cp(1, 1)}}},
		{name: "rolled back: restored, in service",
			in: copiesInput{Components: []component{comp("a", 1, rolledBack)}, Hosts: hosts(2),
				Copies: []observedCopy{cp(0, 0, gen0)}},
			inService: []int{0}},
		{name: "rolled back in batches: one restored copy starts, the discarded ones serve",
			in: copiesInput{Components: []component{comp("a", 3, inBatches)}, Hosts: hosts(3),
				Copies: []observedCopy{cp(0, 0, gen0), cp(1, 1), cp(1, 2)}},
			start: []copyStart{{0, 0}}},
		{name: "rolled back in batches: the batch is starting, nothing more",
			in: copiesInput{Components: []component{comp("a", 3, inBatches)}, Hosts: hosts(3),
				Copies: []observedCopy{cp(0, 0, gen0), cp(0, 3, gen0, starting), cp(1, 1), cp(1, 2)}}},
		{name: "rolled back in batches: the batch serves, a discarded copy goes and the next batch starts",
			in: copiesInput{Components: []component{comp("a", 3, inBatches)}, Hosts: hosts(3),
				Copies: []observedCopy{cp(0, 0, gen0), cp(0, 3, gen0), cp(1, 1), cp(1, 2)}},
			stop: []int{3}, start: []copyStart{{0, 1}}},
		{name: "rolled back in batches: a discarded copy not serving goes at once",
			in: copiesInput{Components: []component{comp("a", 2, inBatches)}, Hosts: hosts(2),
				Copies: []observedCopy{cp(0, 0, gen0), cp(1, 1, starting)}},
			stop: []int{1}, start: []copyStart{{0, 0}}},
		{name: "copies on a host going away go, and are placed anew",
			in:    copiesInput{Components: []component{comp("a", 1, status(ComponentInService))}, Hosts: hosts(1), Copies: []observedCopy{cp(-1, 0, gone)}},
			stop:  []int{0},
			start: []copyStart{{0, 0}}},
		{name: "backing off: nothing placed",
			in: copiesInput{Components: []component{comp("a", 1)}, Hosts: hosts(1), Now: t0, NotUntil: map[string]time.Time{"a": t0.Add(time.Second)}}},
		{name: "a failed component's copies go, its reason stays",
			in:   copiesInput{Components: []component{comp("a", 2, status(ComponentFailed))}, Hosts: hosts(1), Copies: []observedCopy{cp(0, 0)}},
			stop: []int{0}},
		{name: "a deleted component's copies go",
			in:   copiesInput{Components: []component{comp("a", 1, status(ComponentDeleting))}, Hosts: hosts(1), Copies: []observedCopy{cp(0, 0)}},
			stop: []int{0}},
		{name: "it is removed once none is left, stopping ones included",
			in: copiesInput{Components: []component{comp("a", 1, status(ComponentDeleting))}, Hosts: hosts(1), Stopping: map[string]int{"a": 1}}},
		{name: "and then",
			in:     copiesInput{Components: []component{comp("b", 1, status(ComponentInService)), comp("a", 1, status(ComponentDeleting)), comp("c", 1, status(ComponentDeleting))}, Hosts: hosts(1), Copies: []observedCopy{cp(0, 0, of("b"))}},
			remove: []int{2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planCopies(tc.in)
			if !slices.Equal(p.Stop, tc.stop) || !slices.Equal(p.Start, tc.start) || !slices.Equal(p.InService, tc.inService) ||
				!slices.Equal(p.Remove, tc.remove) || p.Waiting["v"] != tc.waiting {
				t.Fatalf("stop %v start %v in service %v remove %v waiting %v; want %v %v %v %v %v",
					p.Stop, p.Start, p.InService, p.Remove, p.Waiting["v"], tc.stop, tc.start, tc.inService, tc.remove, tc.waiting)
			}
			if reason, set := p.Reasons[0]; (reason != "") != tc.reason {
				t.Fatalf("FailureReason %q", reason)
			} else if tc.in.Components[0].Status == ComponentFailed && set {
				t.Fatal("a failed component's reason is not planned over")
			}
		})
	}
}

func TestPlaceAdopted(t *testing.T) {
	large := runtime.InstanceType{Name: "ml.m5.large", VCPUs: 2, MemoryMiB: 8192}
	one := Requirements{NumberOfCpuCoresRequired: 1, MinMemoryRequiredInMb: 1024}
	for _, c := range []struct {
		name   string
		hosts  []hostSlot
		copies []adoptedCopy
		want   []int
	}{
		{"two to a host, in order", []hostSlot{{"v", large}, {"v", large}},
			[]adoptedCopy{{"v", one}, {"v", one}, {"v", one}}, []int{0, 0, 1}},
		{"no room left", []hostSlot{{"v", large}},
			[]adoptedCopy{{"v", one}, {"v", one}, {"v", one}}, []int{0, 0, -1}},
		{"only on its variant's hosts", []hostSlot{{"a", large}, {"b", large}},
			[]adoptedCopy{{"b", one}}, []int{1}},
		{"no component wants it", []hostSlot{{"v", large}},
			[]adoptedCopy{{}, {"v", one}}, []int{-1, 0}},
		{"no hosts", nil, []adoptedCopy{{"v", one}}, []int{-1}},
	} {
		if got := placeAdopted(c.hosts, c.copies); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
