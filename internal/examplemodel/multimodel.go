package examplemodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// MultiModel serves SageMaker's multi-model container contract: models are
// loaded from the directories the platform names (POST /models), listed,
// described, unloaded, and invoked by name. Each model's model.json may say
// how much memory it takes ("memory_mb", default 10); a load that would
// take more than the container's budget answers 507, as a container out of
// memory does, and the platform unloads a model to make room.
type MultiModel struct {
	cfg       Config
	budgetMiB int

	mu     sync.Mutex
	models map[string]*loaded
	used   int
}

type loaded struct {
	url       string
	memoryMiB int
	model     *Model
}

// NewMultiModel returns a multi-model server with memoryMiB for models.
func NewMultiModel(cfg Config, memoryMiB int) *MultiModel {
	return &MultiModel{cfg: cfg, budgetMiB: memoryMiB, models: map[string]*loaded{}}
}

// Handler serves the contract.
func (mm *MultiModel) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /models", mm.load)
	mux.HandleFunc("GET /models", mm.list)
	mux.HandleFunc("GET /models/{name}", mm.get)
	mux.HandleFunc("DELETE /models/{name}", mm.unload)
	mux.HandleFunc("POST /models/{name}/invoke", mm.invoke)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (mm *MultiModel) load(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"model_name"`
		URL  string `json:"url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" || req.URL == "" {
		http.Error(w, `want {"model_name": ..., "url": ...}`, http.StatusBadRequest)
		return
	}
	mem := 10
	if b, err := os.ReadFile(filepath.Join(req.URL, "model.json")); err == nil {
		var mf struct {
			MemoryMiB *int `json:"memory_mb"`
		}
		if json.Unmarshal(b, &mf) == nil && mf.MemoryMiB != nil {
			mem = *mf.MemoryMiB
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if _, ok := mm.models[req.Name]; ok {
		http.Error(w, "model "+req.Name+" is already loaded", http.StatusConflict)
		return
	}
	if mm.used+mem > mm.budgetMiB {
		http.Error(w, fmt.Sprintf("not enough memory for model %s: it takes %d MiB, %d of %d are in use", req.Name, mem, mm.used, mm.budgetMiB), http.StatusInsufficientStorage)
		return
	}
	cfg := mm.cfg
	cfg.ModelDir = req.URL
	m, err := New(cfg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	mm.models[req.Name] = &loaded{url: req.URL, memoryMiB: mem, model: m}
	mm.used += mem
	writeJSON(w, http.StatusOK, map[string]string{"status": "loaded"})
}

type modelInfo struct {
	Name string `json:"modelName"`
	URL  string `json:"modelUrl"`
}

func (mm *MultiModel) list(w http.ResponseWriter, r *http.Request) {
	mm.mu.Lock()
	out := struct {
		Models []modelInfo `json:"models"`
	}{Models: []modelInfo{}}
	for name, l := range mm.models {
		out.Models = append(out.Models, modelInfo{name, l.url})
	}
	mm.mu.Unlock()
	sort.Slice(out.Models, func(i, j int) bool { return out.Models[i].Name < out.Models[j].Name })
	writeJSON(w, http.StatusOK, out)
}

// lookup finds the request's model, or answers 404.
func (mm *MultiModel) lookup(w http.ResponseWriter, r *http.Request) (*loaded, bool) {
	mm.mu.Lock()
	l, ok := mm.models[r.PathValue("name")]
	mm.mu.Unlock()
	if !ok {
		http.Error(w, "model not loaded", http.StatusNotFound)
	}
	return l, ok
}

func (mm *MultiModel) get(w http.ResponseWriter, r *http.Request) {
	if l, ok := mm.lookup(w, r); ok {
		writeJSON(w, http.StatusOK, modelInfo{r.PathValue("name"), l.url})
	}
}

func (mm *MultiModel) unload(w http.ResponseWriter, r *http.Request) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	l, ok := mm.models[r.PathValue("name")]
	if !ok {
		http.Error(w, "model not loaded", http.StatusNotFound)
		return
	}
	delete(mm.models, r.PathValue("name"))
	mm.used -= l.memoryMiB
	writeJSON(w, http.StatusOK, map[string]string{"status": "unloaded"})
}

func (mm *MultiModel) invoke(w http.ResponseWriter, r *http.Request) {
	if l, ok := mm.lookup(w, r); ok {
		l.model.invoke(w, r)
	}
}
