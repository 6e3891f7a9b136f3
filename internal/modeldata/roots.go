package modeldata

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Within refuses a local model data path that is not under one of roots
// (symbolic links resolved), so that an API caller cannot have a runtime
// read, or mount into a container, what lies elsewhere on the machine. No
// roots allow any path.
func Within(path string, roots []string) error {
	if len(roots) == 0 {
		return nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = filepath.Clean(path)
	}
	if abs, err := filepath.Abs(real); err == nil {
		real = abs
	}
	for _, root := range roots {
		if rr, err := filepath.EvalSymlinks(root); err == nil {
			root = rr
		}
		if rel, err := filepath.Rel(root, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(os.PathSeparator)) {
			return nil
		}
	}
	// The roots are not named: they include the data directory, whose path
	// is not the API caller's business.
	return fmt.Errorf("%s is not under an allowed model data root (by default the data directory and ebb's working directory); start ebb with --model-data-root for its directory", path)
}
