package process

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/gpu"
	"github.com/ebbscale/ebb/internal/runtime"
)

// fakeGPUs is a machine with two GPUs at fixed usage.
type fakeGPUs struct{}

func (fakeGPUs) Devices() []gpu.Device {
	return []gpu.Device{{Index: 0, UUID: "GPU-0000", Name: "fake"}, {Index: 1, UUID: "GPU-1111", Name: "fake"}}
}

func (fakeGPUs) Usage(uuid string) (gpu.Usage, error) {
	if uuid == "GPU-0000" {
		return gpu.Usage{Utilization: 40, MemoryUtilization: 25}, nil
	}
	return gpu.Usage{}, errors.New("unexpected GPU")
}

func envOf(t *testing.T, in runtime.Instance, name string) string {
	t.Helper()
	resp, err := http.Post("http://"+in.Addr()+"/invocations", "text/plain", strings.NewReader("env:"+name))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestGPUs: a GPU type gets its GPUs exclusively through
// CUDA_VISIBLE_DEVICES and reports their usage; an instance that asks for
// more than are free fails to launch saying so; GPUs come back at Stop; a
// machine without GPUs runs GPU types without, and no GPU metrics.
func TestGPUs(t *testing.T) {
	self, _ := os.Executable()
	ctx := context.Background()
	alloc := gpu.NewAllocator(fakeGPUs{})
	rt := New(Options{Dir: t.TempDir(), StartLimit: 5 * time.Second, GPUs: alloc})
	one, _ := runtime.LookupInstanceType("ml.g5.xlarge")    // 1 GPU
	four, _ := runtime.LookupInstanceType("ml.g5.12xlarge") // 4 GPUs
	spec := func(id string, typ runtime.InstanceType) runtime.Spec {
		return runtime.Spec{ID: id, Endpoint: "ep", Variant: "v", Deployment: "d", Image: self,
			Environment: map[string]string{"EBB_TEST_MODEL": "1"}, InstanceType: typ}
	}
	a, err := rt.Start(ctx, spec("a", one))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(ctx) })
	select {
	case <-a.Ready():
	case <-a.Done():
		t.Fatalf("ended: %v", a.Err())
	}
	if got := envOf(t, a, "CUDA_VISIBLE_DEVICES"); got != "GPU-0000" {
		t.Fatalf("CUDA_VISIBLE_DEVICES = %q, want the first GPU", got)
	}
	st, err := a.Stats()
	if err != nil || st.GPU == nil || st.GPU.Utilization != 40 || st.GPU.MemoryUtilization != 25 {
		t.Fatalf("Stats = %+v, %v; want the GPU's usage", st.GPU, err)
	}
	big, err := rt.Start(ctx, spec("big", four))
	if err != nil {
		t.Fatal(err)
	}
	<-big.Done()
	if err := big.Err(); !errors.Is(err, runtime.ErrLaunch) || !strings.Contains(err.Error(), "needs 4 GPUs and 1 of the machine's 2 are free") {
		t.Fatalf("Err = %v, want a launch failure naming the GPUs", err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if devs, err := alloc.Take(2); err != nil {
		t.Fatalf("GPUs not given back at Stop: %v", err)
	} else {
		alloc.Release(devs)
	}

	bare := New(Options{Dir: t.TempDir(), StartLimit: 5 * time.Second})
	b, err := bare.Start(ctx, spec("bare", one))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(ctx) })
	select {
	case <-b.Ready():
	case <-b.Done():
		t.Fatalf("a GPU type did not run on a machine without GPUs: %v", b.Err())
	}
	if got := envOf(t, b, "CUDA_VISIBLE_DEVICES"); got != "" {
		t.Fatalf("CUDA_VISIBLE_DEVICES = %q without GPUs", got)
	}
	if st, err := b.Stats(); err != nil || st.GPU != nil {
		t.Fatalf("Stats.GPU = %+v without GPUs, want absent", st.GPU)
	}
}

// TestGPUsOnThisMachine runs where NVML finds a GPU (scripts/gpu-check on a
// GPU machine): the instance gets a real device and its real usage.
func TestGPUsOnThisMachine(t *testing.T) {
	src, err := gpu.Open()
	if err != nil {
		t.Skipf("no GPU here: %v", err)
	}
	self, _ := os.Executable()
	ctx := context.Background()
	rt := New(Options{Dir: t.TempDir(), StartLimit: 10 * time.Second, GPUs: gpu.NewAllocator(src)})
	typ, _ := runtime.LookupInstanceType("ml.g5.xlarge")
	in, err := rt.Start(ctx, runtime.Spec{ID: "gpu", Endpoint: "ep", Variant: "v", Deployment: "d", Image: self,
		Environment: map[string]string{"EBB_TEST_MODEL": "1"}, InstanceType: typ})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop(ctx)
	select {
	case <-in.Ready():
	case <-in.Done():
		t.Fatalf("ended: %v", in.Err())
	}
	want := src.Devices()[0].UUID
	if got := envOf(t, in, "CUDA_VISIBLE_DEVICES"); got != want {
		t.Fatalf("CUDA_VISIBLE_DEVICES = %q, want %q", got, want)
	}
	st, err := in.Stats()
	if err != nil || st.GPU == nil {
		t.Fatalf("Stats.GPU = %+v, %v", st.GPU, err)
	}
	t.Logf("GPU %s: GPUUtilization %.1f%%, GPUMemoryUtilization %.1f%%", want, st.GPU.Utilization, st.GPU.MemoryUtilization)
}
