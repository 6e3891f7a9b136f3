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

// prepareModel makes the model artifacts at dataURL available and returns
// the directory for SM_MODEL_DIR. A directory is used in place; a .tar.gz is
// extracted into dest; no URL gives an empty dest.
func prepareModel(dataURL, dest string) (string, error) {
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
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("ModelDataUrl %q: %w", dataURL, err)
	}
	if info.IsDir() {
		return path, nil
	}
	if !strings.HasSuffix(path, ".tar.gz") && !strings.HasSuffix(path, ".tgz") {
		return "", fmt.Errorf("ModelDataUrl %q: must be a directory or a .tar.gz archive", dataURL)
	}
	if err := extractTarGz(path, dest); err != nil {
		return "", fmt.Errorf("ModelDataUrl %q: %w", dataURL, err)
	}
	return dest, nil
}

func extractTarGz(archive, dest string) error {
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
			_, err = io.Copy(out, tr)
			out.Close()
			if err != nil {
				return err
			}
		}
	}
}
