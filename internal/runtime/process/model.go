package process

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// DefaultMaxModelBytes bounds what one model archive may extract to.
const DefaultMaxModelBytes = 20 << 30

// MaxExpansion is how many times its own size an archive may extract to.
// Model weights barely compress; an archive that expands a hundredfold
// (beyond a first 64 MiB, for small configuration archives) is a bomb.
const MaxExpansion = 100

// prepareModel makes the model artifacts at dataURL available and returns
// the directory for SM_MODEL_DIR. A directory is used in place; a .tar.gz is
// extracted into dest; no URL gives an empty dest. Local paths must lie
// under a model data root: a model's creator chooses the path, and the
// instance (and whoever invokes it) can read what it names.
func (r *Runtime) prepareModel(dataURL, dest string) (string, error) {
	if dataURL == "" {
		return dest, os.MkdirAll(dest, 0o755)
	}
	path := dataURL
	if strings.HasPrefix(dataURL, "file://") {
		u, err := url.Parse(dataURL)
		if err != nil {
			return "", fmt.Errorf("ModelDataUrl %q: %w", dataURL, err)
		}
		path = u.Host + u.Path
	} else if strings.Contains(dataURL, "://") {
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
	if err := extractTarGz(path, dest, min(r.opts.MaxModelBytes, max(64<<20, MaxExpansion*info.Size()))); err != nil {
		return "", fmt.Errorf("ModelDataUrl %q: %w", dataURL, err)
	}
	return dest, nil
}

// allowedModelPath reports whether path, with symbolic links resolved, is
// under one of the model data roots.
func (r *Runtime) allowedModelPath(path string) error {
	if len(r.opts.ModelDataRoots) == 0 {
		return nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = filepath.Clean(path)
	}
	if abs, err := filepath.Abs(real); err == nil {
		real = abs
	}
	for _, root := range r.opts.ModelDataRoots {
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

// extractTarGz extracts archive into dest, refusing to write more than
// limit bytes.
func extractTarGz(archive, dest string, limit int64) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	defer gz.Close()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	written := int64(0)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dest, filepath.Clean("/"+h.Name))
		if !strings.HasPrefix(target, filepath.Clean(dest)+string(os.PathSeparator)) && target != filepath.Clean(dest) {
			return fmt.Errorf("archive entry %q escapes the model directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o600)
			if err != nil {
				return err
			}
			n, err := io.Copy(out, io.LimitReader(tr, limit-written+1))
			out.Close()
			if err != nil {
				return err
			}
			if written += n; written > limit {
				return fmt.Errorf("the archive extracts to more than %d bytes (its size times %d, at most --max-model-bytes); refused as a possible decompression bomb", limit, MaxExpansion)
			}
		}
	}
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
