package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Multi-model endpoints: one container serves many models, loaded on first
// use through SageMaker's multi-model container contract (POST /models to
// load, DELETE /models/NAME to unload, POST /models/NAME/invoke). The router
// sends each request to an instance that has its model loaded when one has
// (least outstanding requests among them); on a miss it prepares the
// artifact, loads it, and when the container answers 507 (out of memory)
// unloads the model that instance used least recently and tries again.

// Errors of multi-model invocations.
var (
	ErrNotMultiModel       = errors.New("not a multi-model endpoint")
	ErrTargetModelRequired = errors.New("target model required")
	ErrBadTargetModel      = errors.New("target model outside the model data prefix")
	ErrModelNotFound       = errors.New("target model not found")
	// ErrModelArtifact wraps why an artifact could not be prepared (its
	// text is for the caller: a path outside the model data roots, a
	// damaged archive).
	ErrModelArtifact = errors.New("the TargetModel's artifact could not be prepared")
	// ErrNoMultiModelContract: the container answered the multi-model
	// contract's POST /models with 404 or 405, as a single-model server
	// does. SageMaker refuses such an image at CreateModel (it lacks the
	// com.amazonaws.sagemaker.capabilities.multi-models=true label); a
	// command line carries no label, so the first invocation says so.
	ErrNoMultiModelContract = errors.New("the container does not serve the multi-model contract")
)

// MultiModel is a multi-model variant: its models are the artifacts under
// Prefix (the model's ModelDataUrl).
type MultiModel struct{ Prefix string }

// Artifacts makes a multi-model endpoint's artifacts readable by its
// instances (the runtime's model data rules apply).
type Artifacts interface {
	// Prepare returns a directory holding the artifact at url, readable by
	// the instance serving at addr, and how long fetching it took (zero
	// when it was ready). An artifact that does not exist is an error
	// wrapping fs.ErrNotExist.
	Prepare(ctx context.Context, addr, url string) (dir string, fetched time.Duration, err error)
}

// multiCall is one invocation's model: its artifact and the name the
// container knows it by (a hash of TargetModel, which may hold any
// printable character).
type multiCall struct{ target, url, name string }

func (m *MultiModel) call(target string) (*multiCall, error) {
	if target == "" {
		return nil, ErrTargetModelRequired
	}
	for _, part := range strings.Split(target, "/") {
		if part == ".." || part == "." {
			return nil, ErrBadTargetModel
		}
	}
	if strings.HasPrefix(target, "/") || strings.Contains(target, "\\") {
		return nil, ErrBadTargetModel
	}
	sum := sha256.Sum256([]byte(target))
	return &multiCall{target: target, url: strings.TrimSuffix(m.Prefix, "/") + "/" + target, name: hex.EncodeToString(sum[:16])}, nil
}

// loadedModels are the models an instance has loaded, with when each was
// last used, and the loads in progress.
type loadedModels struct {
	mu      sync.Mutex
	used    map[string]time.Time
	loading map[string]chan struct{}
}

func (l *loadedModels) has(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.used[name]
	return ok
}

func (l *loadedModels) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.used)
}

// leastRecent returns the loaded model used longest ago, other than keep.
func (l *loadedModels) leastRecent(keep string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var name string
	var at time.Time
	for n, t := range l.used {
		if n != keep && (name == "" || t.Before(at)) {
			name, at = n, t
		}
	}
	return name
}

func (l *loadedModels) set(name string, loaded bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used == nil {
		l.used = map[string]time.Time{}
	}
	if loaded {
		l.used[name] = time.Now()
	} else {
		delete(l.used, name)
	}
}

// ensureLoaded makes sure b has mm's model loaded, and records the cache
// hit or miss and, on a miss, the times SageMaker's multi-model metrics
// report. Concurrent misses for one model on one instance load it once.
func (r *Router) ensureLoaded(ctx context.Context, v *variantRoute, b *backend, mm *multiCall) error {
	l := &b.models
	for {
		l.mu.Lock()
		if _, ok := l.used[mm.name]; ok {
			l.used[mm.name] = time.Now()
			l.mu.Unlock()
			v.stats.cache(true)
			return nil
		}
		if wait := l.loading[mm.name]; wait != nil {
			l.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if l.loading == nil {
			l.loading = map[string]chan struct{}{}
		}
		done := make(chan struct{})
		l.loading[mm.name] = done
		l.mu.Unlock()
		err := r.load(ctx, v, b, mm)
		l.mu.Lock()
		delete(l.loading, mm.name)
		close(done)
		l.mu.Unlock()
		return err
	}
}

// load prepares mm's artifact and loads it on b, unloading the least
// recently used models while the container is out of memory.
func (r *Router) load(ctx context.Context, v *variantRoute, b *backend, mm *multiCall) error {
	start := time.Now()
	if r.o.Artifacts == nil {
		return fmt.Errorf("multi-model endpoint %s: this server cannot prepare model artifacts", v.name)
	}
	dir, fetched, err := r.o.Artifacts.Prepare(ctx, b.up.addr, mm.url)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrModelNotFound, mm.url)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrModelArtifact, err)
	}
	v.stats.cache(false)
	req, _ := json.Marshal(map[string]string{"model_name": mm.name, "url": dir})
	var unloads []time.Duration
	for {
		loadStart := time.Now()
		status, body, err := r.control(ctx, b, http.MethodPost, "/models", req)
		if err != nil {
			return err
		}
		switch {
		case status == http.StatusOK || status == http.StatusConflict: // 409: already loaded
			b.models.set(mm.name, true)
			v.stats.loaded(time.Since(start), fetched, time.Since(loadStart), unloads)
			return nil
		case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
			return fmt.Errorf("%w: POST /models answered %d", ErrNoMultiModelContract, status)
		case status == http.StatusInsufficientStorage:
			victim := b.models.leastRecent(mm.name)
			if victim == "" {
				return &ModelError{Variant: v.name, StatusCode: status, Body: body}
			}
			unloadStart := time.Now()
			if status, body, err := r.control(ctx, b, http.MethodDelete, "/models/"+victim, nil); err != nil {
				return err
			} else if status != http.StatusOK && status != http.StatusNotFound {
				return &ModelError{Variant: v.name, StatusCode: status, Body: body}
			}
			b.models.set(victim, false)
			unloads = append(unloads, time.Since(unloadStart))
		default:
			return &ModelError{Variant: v.name, StatusCode: status, Body: body}
		}
	}
}

// controlClient calls the multi-model contract's model management API.
var controlClient = &http.Client{Timeout: ModelTimeout}

func (r *Router) control(ctx context.Context, b *backend, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+b.up.addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := controlClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, out, nil
}
