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
