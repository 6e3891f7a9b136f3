//go:build linux && !nonvml

package gpu

import (
	"errors"
	"fmt"

	"github.com/ebitengine/purego"
)

// NVML's C API, the few calls ebb makes, bound at run time with purego
// (dlopen without cgo: building ebb compiles no C, and a binary built with
// CGO_ENABLED=0 reads GPUs too). go-nvml binds all of NVML through cgo,
// and its header's deprecated declarations made every first build print a
// hundred lines of compiler warnings.
const (
	nvmlSuccess    = 0
	nvmlBufferSize = 96 // NVML_DEVICE_UUID_V2_BUFFER_SIZE, NVML_DEVICE_NAME_V2_BUFFER_SIZE
)

// nvmlUtilization is nvmlUtilization_t; nvmlMemory is nvmlMemory_t (v1).
type (
	nvmlUtilization struct{ GPU, Memory uint32 }
	nvmlMemory      struct{ Total, Free, Used uint64 }
)

// nvml holds the bound functions. A device is an opaque nvmlDevice_t.
type nvml struct {
	init             func() int32
	errorString      func(ret int32) string
	deviceCount      func(count *uint32) int32
	handleByIndex    func(index uint32, device *uintptr) int32
	handleByUUID     func(uuid string, device *uintptr) int32
	deviceUUID       func(device uintptr, buf *byte, size uint32) int32
	deviceName       func(device uintptr, buf *byte, size uint32) int32
	utilizationRates func(device uintptr, u *nvmlUtilization) int32
	memoryInfo       func(device uintptr, m *nvmlMemory) int32
}

// loadNVML opens libnvidia-ml.so.1 and binds the functions ebb calls.
func loadNVML() (*nvml, error) {
	lib, err := purego.Dlopen("libnvidia-ml.so.1", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("NVML: %w", err)
	}
	n := &nvml{}
	for name, fn := range map[string]any{
		"nvmlInit_v2":                   &n.init,
		"nvmlErrorString":               &n.errorString,
		"nvmlDeviceGetCount_v2":         &n.deviceCount,
		"nvmlDeviceGetHandleByIndex_v2": &n.handleByIndex,
		"nvmlDeviceGetHandleByUUID":     &n.handleByUUID,
		"nvmlDeviceGetUUID":             &n.deviceUUID,
		"nvmlDeviceGetName":             &n.deviceName,
		"nvmlDeviceGetUtilizationRates": &n.utilizationRates,
		"nvmlDeviceGetMemoryInfo":       &n.memoryInfo,
	} {
		sym, err := purego.Dlsym(lib, name)
		if err != nil {
			return nil, fmt.Errorf("NVML: %s: %w", name, err)
		}
		purego.RegisterFunc(fn, sym)
	}
	return n, nil
}

// check turns an nvmlReturn_t into an error naming what failed.
func (n *nvml) check(ret int32, what string, args ...any) error {
	if ret == nvmlSuccess {
		return nil
	}
	return fmt.Errorf("NVML: %s: %s", fmt.Sprintf(what, args...), n.errorString(ret))
}

// text calls an NVML getter that fills a C string buffer.
func (n *nvml) text(get func(uintptr, *byte, uint32) int32, d uintptr) (string, int32) {
	buf := make([]byte, nvmlBufferSize)
	ret := get(d, &buf[0], uint32(len(buf)))
	for i, b := range buf {
		if b == 0 {
			return string(buf[:i]), ret
		}
	}
	return string(buf), ret
}

// nvmlSource reads GPUs through NVML.
type nvmlSource struct {
	n       *nvml
	devices []Device
}

// Open initialises NVML and lists the GPUs. It fails where there is no
// NVIDIA driver (libnvidia-ml.so.1 cannot be loaded) or no GPU.
func Open() (Source, error) {
	n, err := loadNVML()
	if err != nil {
		return nil, err
	}
	if err := n.check(n.init(), "init"); err != nil {
		return nil, err
	}
	var count uint32
	if err := n.check(n.deviceCount(&count), "counting devices"); err != nil {
		return nil, err
	}
	s := &nvmlSource{n: n}
	for i := range int(count) {
		var d uintptr
		if err := n.check(n.handleByIndex(uint32(i), &d), "device %d", i); err != nil {
			return nil, err
		}
		uuid, ret := n.text(n.deviceUUID, d)
		if err := n.check(ret, "device %d UUID", i); err != nil {
			return nil, err
		}
		name, _ := n.text(n.deviceName, d)
		s.devices = append(s.devices, Device{Index: i, UUID: uuid, Name: name})
	}
	if len(s.devices) == 0 {
		return nil, errors.New("NVML: no GPU")
	}
	return s, nil
}

func (s *nvmlSource) Devices() []Device { return s.devices }

func (s *nvmlSource) Usage(uuid string) (Usage, error) {
	n := s.n
	var d uintptr
	if err := n.check(n.handleByUUID(uuid, &d), "%s", uuid); err != nil {
		return Usage{}, err
	}
	var rates nvmlUtilization
	if err := n.check(n.utilizationRates(d, &rates), "%s utilization", uuid); err != nil {
		return Usage{}, err
	}
	var mem nvmlMemory
	if err := n.check(n.memoryInfo(d, &mem), "%s memory", uuid); err != nil {
		return Usage{}, err
	}
	u := Usage{Utilization: float64(rates.GPU)}
	if mem.Total > 0 {
		u.MemoryUtilization = 100 * float64(mem.Used) / float64(mem.Total)
	}
	return u, nil
}
