package process

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ebbscale/ebb/internal/modeldata"
)

// DefaultMaxModelBytes bounds what one model archive may extract to.
const DefaultMaxModelBytes = modeldata.DefaultMaxBytes

// prepareModel makes the model artifacts at dataURL available and returns
// the directory for SM_MODEL_DIR. A directory is used in place; a .tar.gz is
// extracted into dest; no URL gives an empty dest. Local paths must lie
// under a model data root: a model's creator chooses the path, and the
// instance (and whoever invokes it) can read what it names.
func (r *Runtime) prepareModel(dataURL, dest string) (string, error) {
	if dataURL == "" {
		return dest, os.MkdirAll(dest, 0o755)
	}
	path, local, err := modeldata.LocalPath(dataURL)
	if err != nil {
		return "", err
	}
	if !local {
		return "", fmt.Errorf("ModelDataUrl %q: the process runtime reads model data from local paths and file:// URLs only", dataURL)
	}
	if err := r.allowedModelPath(path); err != nil {
		return "", fmt.Errorf("ModelDataUrl %q: %w", dataURL, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("ModelDataUrl %q: no such file or directory (or not readable)", dataURL)
	}
	if info.IsDir() {
		return path, nil
	}
	if !strings.HasSuffix(path, ".tar.gz") && !strings.HasSuffix(path, ".tgz") {
		return "", fmt.Errorf("ModelDataUrl %q: must be a directory or a .tar.gz archive", dataURL)
	}
	if err := modeldata.ExtractFile(path, dest, modeldata.Limit(info.Size(), r.opts.MaxModelBytes)); err != nil {
		return "", fmt.Errorf("ModelDataUrl %q: %w", dataURL, err)
	}
	return dest, nil
}

// allowedModelPath reports whether path, with symbolic links resolved, is
// under one of the model data roots.
func (r *Runtime) allowedModelPath(path string) error {
	return modeldata.Within(path, r.opts.ModelDataRoots)
}

// chownAll gives dir and everything in it to u.
func chownAll(dir string, u *User) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(u.UID), int(u.GID))
	})
}
