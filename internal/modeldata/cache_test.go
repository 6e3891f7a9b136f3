package modeldata

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCache: an artifact is prepared once, into its own directory of the
// cache or in place, a missing local one is fs.ErrNotExist, and a failed
// fill leaves nothing behind.
func TestCache(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.bin"), []byte("a"), 0o644)
	os.Mkdir(filepath.Join(src, "b"), 0o755)
	fills := 0
	c := &Cache{Dir: filepath.Join(t.TempDir(), "cache"), Fill: func(_ context.Context, url, dest string) (string, error) {
		fills++
		path, _, _ := LocalPath(url)
		if info, _ := os.Stat(path); info.IsDir() {
			return path, nil // in place
		}
		if filepath.Base(path) == "bad.bin" {
			os.MkdirAll(dest, 0o755)
			return "", errors.New("corrupt")
		}
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return "", err
		}
		return dest, os.WriteFile(filepath.Join(dest, "model"), []byte("x"), 0o644)
	}}
	ctx := context.Background()
	a, took, err := c.Prepare(ctx, "file://"+filepath.Join(src, "a.bin"))
	if err != nil || took <= 0 || filepath.Dir(a) != c.Dir {
		t.Fatalf("first Prepare = %q, %v, %v; want a directory of the cache", a, took, err)
	}
	if _, err := os.Stat(filepath.Join(a, "model")); err != nil {
		t.Fatal(err)
	}
	again, took, err := c.Prepare(ctx, "file://"+filepath.Join(src, "a.bin"))
	if again != a || took != 0 || err != nil || fills != 1 {
		t.Fatalf("second Prepare = %q, %v, %v after %d fills; want the same directory, ready", again, took, err, fills)
	}
	if b, _, err := c.Prepare(ctx, filepath.Join(src, "b")); b != filepath.Join(src, "b") || err != nil {
		t.Fatalf("a directory used in place: %q, %v", b, err)
	}
	if _, _, err := c.Prepare(ctx, filepath.Join(src, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing artifact: %v, want fs.ErrNotExist", err)
	}
	os.WriteFile(filepath.Join(src, "bad.bin"), []byte("?"), 0o644)
	if _, _, err := c.Prepare(ctx, filepath.Join(src, "bad.bin")); err == nil {
		t.Fatal("a failed fill was not reported")
	}
	entries, _ := os.ReadDir(c.Dir)
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries, want only a's: a failed fill leaves nothing", len(entries))
	}
}
