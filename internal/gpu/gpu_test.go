package gpu

import (
	"errors"
	"strings"
	"testing"
)

// fake is a Source with fixed devices and usage.
type fake struct {
	devs  []Device
	usage map[string]Usage
}

func (f fake) Devices() []Device { return f.devs }
func (f fake) Usage(uuid string) (Usage, error) {
	u, ok := f.usage[uuid]
	if !ok {
		return Usage{}, errors.New("no such GPU")
	}
	return u, nil
}

func TestAllocator(t *testing.T) {
	src := fake{devs: []Device{{0, "GPU-a", "H200"}, {1, "GPU-b", "H200"}, {2, "GPU-c", "H200"}},
		usage: map[string]Usage{"GPU-a": {50, 10}, "GPU-b": {30, 20}, "GPU-c": {0, 0}}}
	a := NewAllocator(src)
	two, err := a.Take(2)
	if err != nil || VisibleDevices(two) != "GPU-a,GPU-b" {
		t.Fatalf("Take(2) = %v, %v", two, err)
	}
	if _, err := a.Take(2); err == nil || !strings.Contains(err.Error(), "needs 2 GPUs and 1 of the machine's 3 are free") {
		t.Fatalf("Take beyond the free = %v", err)
	}
	u, err := a.Usage(two)
	if err != nil || u != (Usage{80, 30}) {
		t.Fatalf("Usage = %+v, %v; want the sums (SageMaker: 0-100 times the GPUs)", u, err)
	}
	a.Release(two)
	if got := a.Reserve([]string{"GPU-b", "GPU-x"}); len(got) != 1 || got[0].UUID != "GPU-b" {
		t.Fatalf("Reserve = %v", got)
	}
	rest, err := a.Take(2)
	if err != nil || VisibleDevices(rest) != "GPU-a,GPU-c" {
		t.Fatalf("after Reserve, Take(2) = %v, %v", rest, err)
	}
	if none := NewAllocator(nil); none.Total() != 0 {
		t.Fatal("a nil source has GPUs")
	}
}

// TestOpenWithoutGPU: where there is no driver, Open fails and nothing
// panics; where there is one (the GPU check), it lists devices.
func TestOpen(t *testing.T) {
	src, err := Open()
	if err != nil {
		t.Logf("no GPU here: %v", err)
		return
	}
	for _, d := range src.Devices() {
		u, err := src.Usage(d.UUID)
		t.Logf("GPU %d %s %s: %+v %v", d.Index, d.UUID, d.Name, u, err)
		if err != nil {
			t.Error(err)
		}
	}
}
