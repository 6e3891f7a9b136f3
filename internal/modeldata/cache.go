package modeldata

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Cache prepares the artifacts of multi-model endpoints once each, by URL,
// in Dir: the router asks for one on a model's first invocation (it is a
// runtime.Artifacts). Artifacts are taken to be immutable, as SageMaker
// takes its S3 objects: one is prepared again only by a new server.
type Cache struct {
	// Dir holds what Fill prepares, a directory per URL.
	Dir string
	// Fill prepares the artifact at url into dest, a new directory, and
	// returns the directory instances read it from: dest, or the artifact
	// itself where it can be used in place.
	Fill func(ctx context.Context, url, dest string) (string, error)

	mu    sync.Mutex
	ready map[string]string // URL -> directory
}

// Prepare returns the directory of the artifact at rawURL and how long
// preparing it took (zero when it was ready); a local artifact that does
// not exist is fs.ErrNotExist.
func (c *Cache) Prepare(ctx context.Context, rawURL string) (string, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if dir, ok := c.ready[rawURL]; ok {
		return dir, 0, nil
	}
	if path, local, err := LocalPath(rawURL); err != nil {
		return "", 0, err
	} else if local {
		if _, err := os.Stat(path); err != nil {
			return "", 0, fmt.Errorf("%w: %s", fs.ErrNotExist, rawURL)
		}
	}
	start := time.Now()
	sum := sha256.Sum256([]byte(rawURL))
	dest := filepath.Join(c.Dir, hex.EncodeToString(sum[:12]))
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return "", 0, err
	}
	// Filled aside and renamed: an instance never reads half an artifact,
	// and a crash leaves none behind under its name.
	os.RemoveAll(dest + ".tmp")
	os.RemoveAll(dest)
	dir, err := c.Fill(ctx, rawURL, dest+".tmp")
	if err == nil && dir == dest+".tmp" {
		dir, err = dest, os.Rename(dest+".tmp", dest)
	}
	if err != nil {
		os.RemoveAll(dest + ".tmp")
		return "", 0, err
	}
	if c.ready == nil {
		c.ready = map[string]string{}
	}
	c.ready[rawURL] = dir
	return dir, time.Since(start), nil
}

// LocalPath is the file a local ModelDataUrl (a path, or a file:// URL)
// names; local is false for a remote one.
func LocalPath(rawURL string) (path string, local bool, err error) {
	if strings.HasPrefix(rawURL, "file://") {
		u, err := url.Parse(rawURL)
		if err != nil {
			return "", true, fmt.Errorf("ModelDataUrl %q: %w", rawURL, err)
		}
		return u.Host + u.Path, true, nil
	}
	if strings.Contains(rawURL, "://") {
		return "", false, nil
	}
	return rawURL, true, nil
}
