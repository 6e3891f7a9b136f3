//go:build !linux

package gpu

import "errors"

// Open fails: NVML is read on Linux only.
func Open() (Source, error) {
	return nil, errors.New("ebb reads NVIDIA GPUs through NVML on Linux only")
}
