package hosting

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
)

// Placing copies of inference components on a variant's instances, and
// sizing a variant with managed instance scaling to its copies, are
// decisions apart from their doing (see plan.go): pure functions of the
// hosts and what their copies need, table-tested in place_test.go.

// room is what a host has left for copies.
type room struct {
	CPU       float64
	MemoryMiB int
	GPUs      int
}

// roomOn is a host's room: its size less what the copies on it need (a
// fraction of an accelerator takes a whole one).
func roomOn(size runtime.InstanceType, copies []Requirements) room {
	r := room{CPU: float64(size.VCPUs), MemoryMiB: size.MemoryMiB, GPUs: size.GPUs}
	for _, c := range copies {
		r.CPU -= c.NumberOfCpuCoresRequired
		r.MemoryMiB -= c.MinMemoryRequiredInMb
		r.GPUs -= int(math.Ceil(c.NumberOfAcceleratorDevicesRequired))
	}
	return r
}

// firstFit returns the first host with room for a copy needing r, in the
// order given (oldest first: copies pack onto few instances, and the newest
// empty ones can go), or -1 when none has.
func firstFit(rooms []room, r Requirements) int {
	return slices.IndexFunc(rooms, func(h room) bool { return r.fits(h.CPU, h.MemoryMiB, h.GPUs) })
}

// surplusCopies orders copies (indexes into all) surplus first: starting
// ones, then the newest.
func surplusCopies(all []observedCopy, idx []int) {
	slices.SortStableFunc(idx, func(a, b int) int {
		ca, cb := all[a], all[b]
		if ca.Ready != cb.Ready {
			if ca.Ready {
				return 1
			}
			return -1
		}
		return cb.Started.Compare(ca.Started)
	})
}

// hostSlot is what placing adopted copies knows of a host.
type hostSlot struct {
	Variant string
	Size    runtime.InstanceType
}

// adoptedCopy is what placing an adopted copy knows of it; a zero Variant
// is a copy no live component wants.
type adoptedCopy struct {
	Variant string
	Needs   Requirements
}

// placeAdopted puts the copies a restarted server adopted, in order, each
// on the first host of its variant with room, as placement would have
// put them; the result is the host of each copy, -1 where none has room
// (or no component wants it).
func placeAdopted(hosts []hostSlot, copies []adoptedCopy) []int {
	used := make([][]Requirements, len(hosts))
	out := make([]int, len(copies))
	for i, c := range copies {
		rooms := make([]room, len(hosts))
		for h, host := range hosts {
			rooms[h] = roomOn(host.Size, used[h])
			if c.Variant == "" || host.Variant != c.Variant {
				rooms[h] = room{CPU: -1, MemoryMiB: -1, GPUs: -1}
			}
		}
		out[i] = firstFit(rooms, c.Needs)
		if out[i] >= 0 {
			used[out[i]] = append(used[out[i]], c.Needs)
		}
	}
	return out
}

// managedHost is what host sizing knows of one instance of the variant.
type managedHost struct {
	Ready, HasCopies bool
	Started          time.Time
}

// sizeHosts decides a managed variant's instance count from its desired
// count, its bounds [lo, hi], its hosts and how many copies found no room:
// one more instance while copies wait and every host is healthy (one at a
// time: the new one may make room), up to hi; with no copy waiting, the
// newest healthy hosts without copies go, down to lo. It returns the new
// count and the hosts (indexes) to stop.
func sizeHosts(desired, lo, hi int, hosts []managedHost, waiting int) (int, []int) {
	if waiting > 0 {
		if !slices.ContainsFunc(hosts, func(h managedHost) bool { return !h.Ready }) && desired < hi {
			desired++
		}
		return desired, nil
	}
	order := make([]int, len(hosts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return hosts[b].Started.Compare(hosts[a].Started) })
	var stop []int
	for _, i := range order {
		if desired <= lo {
			break
		}
		if hosts[i].Ready && !hosts[i].HasCopies {
			stop = append(stop, i)
			desired--
		}
	}
	return desired, stop
}

// copiesInput is everything planCopies decides on: the endpoint's
// components, the healthy hosts of its current deployment (oldest first,
// by variant) and the copies that are not being stopped.
type copiesInput struct {
	Components []component
	Hosts      []copyHost
	Copies     []observedCopy
	// Stopping counts each component's copies being stopped.
	Stopping map[string]int
	// CanGrow says a variant may still get instances for its copies
	// (some are starting, or managed instance scaling may add one).
	CanGrow map[string]bool
	// NotUntil holds a component's placements back (backoff after its
	// copies failed), by component name.
	NotUntil map[string]time.Time
	Now      time.Time
}

// copyHost is a healthy host: its variant and its size.
type copyHost struct {
	Variant string
	Size    runtime.InstanceType
}

// observedCopy is a copy not being stopped: its component and the
// generation it runs, its host (an index into Hosts, -1 for a host that
// is not healthy; HostGone when it is going away) and how it fares.
type observedCopy struct {
	Component  string
	Generation int
	Host       int
	HostGone   bool
	Needs      Requirements
	Ready      bool
	Started    time.Time
}

// copyPlan is what convergeComponents applies, in order: stop copies,
// start copies (a component's index, a host's index), then record each
// component's FailureReason and status, remove the components whose
// deletion is complete, and size the managed variants for the copies that
// found no room (Waiting, by variant).
type copyPlan struct {
	Stop      []int
	Start     []copyStart
	Reasons   map[int]string // by component
	InService []int
	Remove    []int // descending, so removing one keeps the others' indexes
	Waiting   map[string]int
}

type copyStart struct{ Component, Host int }

// planCopies brings every component to its desired copy count of its
// current generation, component by component, on what the copies before
// it left:
//   - copies on hosts going away go (they are placed anew);
//   - a deleted or failed component's copies go, and a deleted one is
//     removed once none is left;
//   - surplus copies of the current generation go, starting ones first;
//   - missing copies go on the first host with room (firstFit), unless the
//     component is backing off; where none has room and every current copy
//     is ready, an old-generation copy goes to make room (a rolling
//     update, one copy at a time);
//   - a rolling update in batches (copyrollout.go) wants its batch's count
//     of the new generation and keeps what the batches done leave of the
//     old, whose surplus goes first to give the batch its room; it is
//     ended by advanceCopies, not here;
//   - after a rollback, the generation discarded goes as soon as a copy of
//     the restored one serves; rolled back in batches, the restored copies
//     start a batch at a time and the discarded ones go as they serve;
//   - once every copy runs, or every copy that can be placed does and the
//     variant cannot grow, and all are ready, the old generation goes and
//     the component is InService;
//   - copies with no room are the variant's Waiting and the component's
//     FailureReason.
func planCopies(in copiesInput) copyPlan {
	p := copyPlan{Reasons: map[int]string{}, Waiting: map[string]int{}}
	used := make([][]Requirements, len(in.Hosts))
	for _, c := range in.Copies {
		if c.Host >= 0 {
			used[c.Host] = append(used[c.Host], c.Needs)
		}
	}
	stop := func(i int) {
		p.Stop = append(p.Stop, i)
		if h := in.Copies[i].Host; h >= 0 {
			k := slices.IndexFunc(used[h], func(r Requirements) bool { return r == in.Copies[i].Needs })
			used[h] = slices.Delete(used[h], k, k+1)
		}
	}
	for i, c := range in.Copies {
		if c.HostGone {
			stop(i)
		}
	}
	place := func(variant string, needs Requirements) int {
		var hosts []int
		var rooms []room
		for h, host := range in.Hosts {
			if host.Variant == variant {
				hosts, rooms = append(hosts, h), append(rooms, roomOn(host.Size, used[h]))
			}
		}
		if k := firstFit(rooms, needs); k >= 0 {
			used[hosts[k]] = append(used[hosts[k]], needs)
			return hosts[k]
		}
		return -1
	}
	ready := func(idx []int) bool {
		return !slices.ContainsFunc(idx, func(i int) bool { return !in.Copies[i].Ready })
	}
	for ci, comp := range in.Components {
		var current, old, discard []int
		for i, c := range in.Copies {
			if c.Component != comp.Name || c.HostGone {
				continue
			}
			switch {
			case comp.Status == ComponentDeleting || comp.Status == ComponentFailed:
				stop(i)
			case c.Generation == comp.Generation:
				current = append(current, i)
			case comp.Discard != 0 && c.Generation == comp.Discard:
				discard = append(discard, i)
			default:
				old = append(old, i)
			}
		}
		// A rolled-back generation goes as soon as a copy of the restored
		// one serves (traffic first); until then it is old like any other.
		// Rolled back in batches, its copies serve until as many of the
		// restored one are healthy, those not serving going first.
		serving := 0
		for _, i := range current {
			if in.Copies[i].Ready {
				serving++
			}
		}
		switch {
		case comp.RollbackBatch > 0:
			surplusCopies(in.Copies, discard)
			for len(discard) > max(0, comp.DesiredCopies-serving) || len(discard) > 0 && !in.Copies[discard[0]].Ready {
				stop(discard[0])
				discard = discard[1:]
			}
			old = append(old, discard...)
		case serving > 0:
			for _, i := range discard {
				stop(i)
			}
		default:
			old = append(old, discard...)
		}
		if comp.Status == ComponentDeleting || comp.Status == ComponentFailed {
			if comp.Status == ComponentDeleting && in.Stopping[comp.Name] == 0 && !slices.ContainsFunc(in.Copies, func(c observedCopy) bool { return c.Component == comp.Name }) {
				p.Remove = append([]int{ci}, p.Remove...)
			}
			continue
		}
		// A rolling update (copyrollout.go) wants its batch of the new
		// generation and keeps what the batches done leave of the old.
		want, keepOld := comp.DesiredCopies, -1
		if ro := comp.Rollout; ro != nil {
			want, keepOld = ro.targets(comp.DesiredCopies)
		}
		if extra := len(current) - want; extra > 0 {
			surplusCopies(in.Copies, current)
			for _, i := range current[:extra] {
				stop(i)
			}
			current = current[extra:]
		}
		for keepOld >= 0 && len(old) > keepOld { // their room goes to the batch
			stop(old[0])
			old = old[1:]
		}
		started, unplaced := 0, 0
		missing := want - len(current)
		if comp.RollbackBatch > 0 && missing > 0 {
			// A batch at a time, once the one before serves.
			missing = min(missing, comp.RollbackBatch)
			if !ready(current) {
				missing = 0
			}
		}
		if missing > 0 && !in.Now.Before(in.NotUntil[comp.Name]) {
			for range missing {
				h := place(comp.Variant, comp.Needs)
				if h < 0 && len(old) > 0 && ready(current) && started == 0 {
					stop(old[0])
					old = old[1:]
					h = place(comp.Variant, comp.Needs)
				}
				if h < 0 {
					unplaced++
					continue
				}
				p.Start = append(p.Start, copyStart{Component: ci, Host: h})
				started++
			}
		}
		p.Waiting[comp.Variant] += unplaced
		p.Reasons[ci] = ""
		if unplaced > 0 {
			p.Reasons[ci] = fmt.Sprintf("%d of %d copies cannot be placed: each needs %g CPU cores, %d MiB of memory and %g accelerators, and no healthy instance of variant %s has that much left. Add instances (UpdateEndpointWeightsAndCapacities, or a higher MaxInstanceCount) or lower the copy count of a component on them.",
				unplaced, comp.DesiredCopies, comp.Needs.NumberOfCpuCoresRequired, comp.Needs.MinMemoryRequiredInMb, comp.Needs.NumberOfAcceleratorDevicesRequired, comp.Variant)
		}
		if keepOld >= 0 {
			continue // advanceCopies ends the update
		}
		// Settled: every copy runs, or every copy that can be placed does
		// and no instance can be added for the others (the reason stays).
		full := len(current)+started >= comp.DesiredCopies
		if (full || unplaced > 0 && !in.CanGrow[comp.Variant]) && started == 0 && ready(current) {
			if full {
				for _, i := range old {
					stop(i)
				}
			}
			if comp.Status != ComponentInService {
				p.InService = append(p.InService, ci)
			}
		}
	}
	return p
}
