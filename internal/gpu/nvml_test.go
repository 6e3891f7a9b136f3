//go:build linux && !nonvml

package gpu

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// fakeNVML is a libnvidia-ml.so.1 of two GPUs with known usage, in C as
// NVML's header declares its calls, so that the binding's types (handles,
// C strings, the utilization and memory structs) are checked against a
// real shared library on machines without a GPU.
const fakeNVML = `
#include <string.h>
typedef int nvmlReturn_t;
typedef void *nvmlDevice_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
static int devices[2];
static int inited;
nvmlReturn_t nvmlInit_v2(void) { inited = 1; return 0; }
const char *nvmlErrorString(nvmlReturn_t r) { return r == 13 ? "Not Found" : "Unknown Error"; }
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) { if (!inited) return 1; *n = 2; return 0; }
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) { if (i > 1) return 2; *d = &devices[i]; return 0; }
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *buf, unsigned int n) {
	strncpy(buf, d == &devices[0] ? "GPU-fake-0" : "GPU-fake-1", n); return 0; }
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *buf, unsigned int n) { strncpy(buf, "Fake H100", n); return 0; }
nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *d) {
	if (strcmp(uuid, "GPU-fake-0") == 0) { *d = &devices[0]; return 0; }
	if (strcmp(uuid, "GPU-fake-1") == 0) { *d = &devices[1]; return 0; }
	return 13; }
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
	u->gpu = d == &devices[0] ? 42 : 7; u->memory = 99; return 0; }
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
	m->total = 80ULL << 30; m->used = 20ULL << 30; m->free = m->total - m->used; return 0; }
`

// TestNVMLBinding opens a fake libnvidia-ml.so.1 in a child process (the
// loader reads LD_LIBRARY_PATH once, at start) and reads its GPUs.
func TestNVMLBinding(t *testing.T) {
	if os.Getenv("EBB_FAKE_NVML") != "" {
		src, err := Open()
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if d := src.Devices(); len(d) != 2 || d[0].UUID != "GPU-fake-0" || d[1].UUID != "GPU-fake-1" || d[1].Index != 1 || d[0].Name != "Fake H100" {
			t.Fatalf("Devices = %+v", d)
		}
		u, err := src.Usage("GPU-fake-0")
		if err != nil || u.Utilization != 42 || u.MemoryUtilization != 25 {
			t.Fatalf("Usage = %+v, %v; want 42 %% and 25 %% of memory", u, err)
		}
		if u, _ := src.Usage("GPU-fake-1"); u.Utilization != 7 {
			t.Fatalf("second GPU's Usage = %+v", u)
		}
		if _, err := src.Usage("GPU-gone"); err == nil || err.Error() != "NVML: GPU-gone: Not Found" {
			t.Fatalf("Usage of an unknown GPU: %v", err)
		}
		return
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build a fake NVML with")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fake.c")
	if err := os.WriteFile(src, []byte(fakeNVML), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", filepath.Join(dir, "libnvidia-ml.so.1"), src).CombinedOutput(); err != nil {
		t.Fatalf("building the fake NVML: %v\n%s", err, out)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestNVMLBinding$", "-test.count=1")
	child.Env = append(os.Environ(), "EBB_FAKE_NVML=1", "LD_LIBRARY_PATH="+dir)
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("with the fake NVML: %v\n%s", err, out)
	}
}

// TestNoNVML: without the library, Open fails and says why.
func TestNoNVML(t *testing.T) {
	if os.Getenv("EBB_FAKE_NVML") != "" {
		t.Skip("the child of TestNVMLBinding")
	}
	if _, err := os.Stat("/dev/nvidiactl"); err == nil {
		t.Skip("this machine has an NVIDIA driver")
	}
	if _, err := Open(); err == nil {
		t.Fatal("Open succeeded without NVML")
	}
}
