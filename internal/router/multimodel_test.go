package router

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/examplemodel"
)

// dirArtifacts serves artifacts that are directories under a prefix.
type dirArtifacts struct{}

func (dirArtifacts) Prepare(_ context.Context, _, url string) (string, time.Duration, error) {
	if _, err := os.Stat(url); err != nil {
		return "", 0, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
	}
	return url, time.Millisecond, nil
}

// TestMultiModel: three models of 40 MiB in a container with 100 MiB: the
// third load unloads the least recently used model, and a later request
// for it loads it again; bad targets are refused.
func TestMultiModel(t *testing.T) {
	prefix := t.TempDir()
	for _, m := range []string{"a", "b", "c"} {
		os.MkdirAll(filepath.Join(prefix, m), 0o755)
		os.WriteFile(filepath.Join(prefix, m, "model.json"), []byte(`{"memory_mb": 40}`), 0o644)
	}
	srv := httptest.NewServer(examplemodel.NewMultiModel(examplemodel.Config{}, 100).Handler())
	defer srv.Close()
	r := New(Options{Artifacts: dirArtifacts{}})
	r.Set(Endpoint{Name: "mme", Variants: []Variant{{Name: "v", Weight: 1, MultiModel: &MultiModel{Prefix: prefix},
		Instances: []Instance{{ID: "i", Addr: strings.TrimPrefix(srv.URL, "http://")}}}}})
	for _, m := range []string{"a", "b", "a", "c", "b"} {
		if _, _, err := invoke(t, r, Invocation{Endpoint: "mme", TargetModel: m, Body: []byte("1,2")}); err != nil {
			t.Fatalf("model %s: %v", m, err)
		}
	}
	s := r.Collect()[0]
	// a miss, b miss, a hit, c miss (unloads b), b miss (unloads a).
	if s.CacheHits != 1 || s.CacheMisses != 4 || len(s.ModelUnloads) != 2 || len(s.ModelLoads) != 4 || s.LoadedModels != 2 || s.Invocations != 5 {
		t.Fatalf("sample %+v", s)
	}
	for target, want := range map[string]error{"": ErrTargetModelRequired, "../etc": ErrBadTargetModel, "a/../../x": ErrBadTargetModel, "/abs": ErrBadTargetModel, "missing": ErrModelNotFound} {
		if _, _, err := invoke(t, r, Invocation{Endpoint: "mme", TargetModel: target}); !errors.Is(err, want) {
			t.Errorf("target %q: %v, want %v", target, err, want)
		}
	}
	plain := New(Options{})
	plain.Set(Endpoint{Name: "p", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{serve(t, answer("x"))}}}})
	if _, _, err := invoke(t, plain, Invocation{Endpoint: "p", TargetModel: "a"}); !errors.Is(err, ErrNotMultiModel) {
		t.Fatalf("target model on a single-model endpoint: %v", err)
	}
}
