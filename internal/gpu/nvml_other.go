//go:build !linux || nonvml

package gpu

import "errors"

// Open fails: NVML is read on Linux, by a binary built without the
// nonvml tag (which makes a static binary for an image FROM scratch).
func Open() (Source, error) {
	return nil, errors.New("this ebb reads no GPUs: NVML is read on Linux, by a binary built without -tags nonvml")
}
