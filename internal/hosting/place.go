package hosting

import (
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
