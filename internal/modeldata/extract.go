package modeldata

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MaxExpansion is how many times its own size an archive may extract to.
// Model weights barely compress; an archive that expands a hundredfold
// (beyond a first 64 MiB, for small configuration archives) is a bomb.
const MaxExpansion = 100

// Limit is what an archive of size bytes may extract to, at most maxBytes.
func Limit(size, maxBytes int64) int64 {
	return min(maxBytes, max(64<<20, MaxExpansion*size))
}

// ExtractFile extracts the .tar.gz archive at path into dest, refusing to
// write more than limit bytes.
func ExtractFile(path, dest string, limit int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return Extract(f, dest, limit)
}

// Extract extracts a .tar.gz stream into dest, refusing entries that would
// land outside it and writing at most limit bytes.
func Extract(r io.Reader, dest string, limit int64) error {
	gz, err := gzip.NewReader(r)
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
