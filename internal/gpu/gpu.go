package gpu

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Device is one GPU.
type Device struct {
	Index int
	UUID  string
	Name  string
}

// Usage is one GPU's utilization, in percent.
type Usage struct {
	// Utilization is the share of time a kernel ran (NVML's gpu rate).
	Utilization float64
	// MemoryUtilization is the share of the GPU's memory in use.
	MemoryUtilization float64
}

// Source lists GPUs and reads their usage: NVML, or a fake in tests.
type Source interface {
	Devices() []Device
	Usage(uuid string) (Usage, error)
}

// Allocator hands a Source's devices out exclusively.
type Allocator struct {
	src  Source
	mu   sync.Mutex
	free []Device
	all  int
}

// NewAllocator returns an allocator of src's devices (src may be nil: no GPUs).
func NewAllocator(src Source) *Allocator {
	a := &Allocator{src: src}
	if src != nil {
		a.free = slices.Clone(src.Devices())
		a.all = len(a.free)
	}
	return a
}

// Total is how many GPUs the machine has.
func (a *Allocator) Total() int { return a.all }

// Take assigns n free devices, or fails saying how many are free.
func (a *Allocator) Take(n int) ([]Device, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n > len(a.free) {
		return nil, fmt.Errorf("it needs %d GPUs and %d of the machine's %d are free", n, len(a.free), a.all)
	}
	got := slices.Clone(a.free[:n])
	a.free = a.free[n:]
	return got, nil
}

// Reserve takes the devices with these UUIDs (an adopted instance's);
// unknown or taken ones are skipped, and the ones taken are returned.
func (a *Allocator) Reserve(uuids []string) []Device {
	a.mu.Lock()
	defer a.mu.Unlock()
	var got []Device
	for _, u := range uuids {
		if i := slices.IndexFunc(a.free, func(d Device) bool { return d.UUID == u }); i >= 0 {
			got = append(got, a.free[i])
			a.free = slices.Delete(a.free, i, i+1)
		}
	}
	return got
}

// Release gives devices back.
func (a *Allocator) Release(devs []Device) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.free = append(a.free, devs...)
	slices.SortFunc(a.free, func(x, y Device) int { return x.Index - y.Index })
}

// Usage sums the usage of devs as SageMaker publishes it per instance:
// GPUUtilization and GPUMemoryUtilization range from 0 to 100 times the
// number of GPUs.
func (a *Allocator) Usage(devs []Device) (Usage, error) {
	var sum Usage
	if a.src == nil {
		return sum, fmt.Errorf("no GPU source")
	}
	for _, d := range devs {
		u, err := a.src.Usage(d.UUID)
		if err != nil {
			return Usage{}, err
		}
		sum.Utilization += u.Utilization
		sum.MemoryUtilization += u.MemoryUtilization
	}
	return sum, nil
}

// VisibleDevices is the CUDA_VISIBLE_DEVICES value that gives a process
// exactly devs.
func VisibleDevices(devs []Device) string {
	ids := make([]string, len(devs))
	for i, d := range devs {
		ids[i] = d.UUID
	}
	return strings.Join(ids, ",")
}
