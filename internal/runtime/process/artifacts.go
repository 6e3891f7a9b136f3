package process

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

	"github.com/ebbscale/ebb/internal/runtime"
)

// Artifacts prepares the artifacts of multi-model endpoints for the
// router, under the same rules as a model's ModelDataUrl (local paths and
// file:// URLs under the model data roots): a directory is used in place, a
// .tar.gz is extracted once into the cache directory, where instances read
// it.
type Artifacts struct {
	r   *Runtime
	dir string

	mu    sync.Mutex
	ready map[string]string // URL -> directory
}

// Artifacts returns the artifact cache of the runtime's multi-model
// endpoints, kept in dir (runtime.ArtifactPreparer).
func (r *Runtime) Artifacts(dir string) runtime.Artifacts {
	return &Artifacts{r: r, dir: dir, ready: map[string]string{}}
}

// Prepare returns the directory of the artifact at rawURL and how long
// preparing it took (zero when it was ready).
func (a *Artifacts) Prepare(ctx context.Context, rawURL string) (string, time.Duration, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if dir, ok := a.ready[rawURL]; ok {
		return dir, 0, nil
	}
	path := rawURL
	if strings.HasPrefix(rawURL, "file://") {
		u, err := url.Parse(rawURL)
		if err != nil {
			return "", 0, err
		}
		path = u.Host + u.Path
	}
	if !strings.Contains(rawURL, "://") || strings.HasPrefix(rawURL, "file://") {
		if _, err := os.Stat(path); err != nil {
			return "", 0, fmt.Errorf("%w: %s", fs.ErrNotExist, rawURL)
		}
	}
	start := time.Now()
	sum := sha256.Sum256([]byte(rawURL))
	dest := filepath.Join(a.dir, hex.EncodeToString(sum[:12]))
	if err := os.MkdirAll(a.dir, 0o755); err != nil {
		return "", 0, err
	}
	dir, err := a.r.prepareModel(rawURL, dest)
	if err != nil {
		os.RemoveAll(dest)
		return "", 0, err
	}
	a.ready[rawURL] = dir
	return dir, time.Since(start), nil
}
