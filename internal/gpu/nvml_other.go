//go:build !(linux && cgo)

package gpu

import "errors"

// Open fails: this build has no NVML (it needs cgo on Linux).
func Open() (Source, error) {
	return nil, errors.New("this ebb was built without NVML support (cgo on Linux)")
}
