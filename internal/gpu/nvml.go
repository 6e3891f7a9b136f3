//go:build linux && cgo

package gpu

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// nvmlSource reads GPUs through NVML.
type nvmlSource struct {
	devices []Device
}

// Open initialises NVML and lists the GPUs. It fails where there is no
// NVIDIA driver (libnvidia-ml.so.1 cannot be loaded) or no GPU.
func Open() (Source, error) {
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML: %v", nvml.ErrorString(ret))
	}
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML: counting devices: %v", nvml.ErrorString(ret))
	}
	s := &nvmlSource{}
	for i := range n {
		d, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("NVML: device %d: %v", i, nvml.ErrorString(ret))
		}
		uuid, ret := d.GetUUID()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("NVML: device %d UUID: %v", i, nvml.ErrorString(ret))
		}
		name, _ := d.GetName()
		s.devices = append(s.devices, Device{Index: i, UUID: uuid, Name: name})
	}
	if len(s.devices) == 0 {
		return nil, errors.New("NVML: no GPU")
	}
	return s, nil
}

func (s *nvmlSource) Devices() []Device { return s.devices }

func (s *nvmlSource) Usage(uuid string) (Usage, error) {
	d, ret := nvml.DeviceGetHandleByUUID(uuid)
	if ret != nvml.SUCCESS {
		return Usage{}, fmt.Errorf("NVML: %s: %v", uuid, nvml.ErrorString(ret))
	}
	rates, ret := d.GetUtilizationRates()
	if ret != nvml.SUCCESS {
		return Usage{}, fmt.Errorf("NVML: %s utilization: %v", uuid, nvml.ErrorString(ret))
	}
	mem, ret := d.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return Usage{}, fmt.Errorf("NVML: %s memory: %v", uuid, nvml.ErrorString(ret))
	}
	u := Usage{Utilization: float64(rates.Gpu)}
	if mem.Total > 0 {
		u.MemoryUtilization = 100 * float64(mem.Used) / float64(mem.Total)
	}
	return u, nil
}
