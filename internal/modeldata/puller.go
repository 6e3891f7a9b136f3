package modeldata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Puller serves a Cache over HTTP: on Kubernetes it runs beside a
// multi-model container in its pod (`ebb fetch-model --serve`), fills the
// volume the two share, and the router asks it for each artifact before it
// loads the model, as SageMaker's own agent puts an artifact on the
// instance before POST /models. It fetches only URLs under Prefix, the
// model's ModelDataUrl: whoever reaches the pod cannot make it fetch
// anything else with the pod's credentials.
type Puller struct {
	Cache  *Cache
	Prefix string
}

// pullRequest and pullAnswer are the puller's protocol: POST /artifacts
// with the artifact's URL answers the directory that holds it.
type pullRequest struct {
	URL string `json:"url"`
}

type pullAnswer struct {
	Dir       string `json:"dir,omitempty"`
	FetchedMS int64  `json:"fetchedMs,omitempty"`
	Error     string `json:"error,omitempty"`
}

// ServeHTTP answers GET /healthz (its readiness probe) and POST
// /artifacts: 200 with the artifact's directory, 404 when there is no
// artifact at the URL, 403 for a URL outside Prefix, 502 when fetching
// failed otherwise.
func (p *Puller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz" && r.Method == http.MethodGet:
		w.WriteHeader(http.StatusOK)
		return
	case r.URL.Path != "/artifacts":
		http.NotFound(w, r)
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var req pullRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		answer(w, http.StatusBadRequest, pullAnswer{Error: "want a JSON body {\"url\": ...}: " + err.Error()})
		return
	}
	if !underPrefix(req.URL, p.Prefix) {
		answer(w, http.StatusForbidden, pullAnswer{Error: fmt.Sprintf("%q is not under this model's ModelDataUrl %q", req.URL, p.Prefix)})
		return
	}
	dir, took, err := p.Cache.Prepare(r.Context(), req.URL)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		answer(w, http.StatusNotFound, pullAnswer{Error: err.Error()})
	case err != nil:
		answer(w, http.StatusBadGateway, pullAnswer{Error: err.Error()})
	default:
		answer(w, http.StatusOK, pullAnswer{Dir: dir, FetchedMS: took.Milliseconds()})
	}
}

// underPrefix reports whether url names an artifact under prefix, with no
// . or .. segment to climb out of it.
func underPrefix(url, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	rest, ok := strings.CutPrefix(url, prefix)
	if !ok || rest == "" {
		return false
	}
	for _, part := range strings.Split(rest, "/") {
		if part == "." || part == ".." {
			return false
		}
	}
	return true
}

func answer(w http.ResponseWriter, status int, a pullAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(a)
}

// Pull asks the puller at base (http://host:port) for the artifact at url
// and returns its directory and how long fetching it took; no artifact
// there is fs.ErrNotExist. A puller that refuses the connection (its
// container is starting or restarting) is asked again until ctx ends.
func Pull(ctx context.Context, c *http.Client, base, url string) (string, time.Duration, error) {
	body, _ := json.Marshal(pullRequest{URL: url})
	wait := 50 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/artifacts", bytes.NewReader(body))
		if err != nil {
			return "", 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) {
			select {
			case <-time.After(wait):
				wait = min(2*wait, time.Second)
				continue
			case <-ctx.Done():
				return "", 0, fmt.Errorf("the model puller at %s: %w", base, err)
			}
		}
		if err != nil {
			return "", 0, fmt.Errorf("the model puller at %s: %w", base, err)
		}
		var a pullAnswer
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a)
		resp.Body.Close()
		switch {
		case err != nil:
			return "", 0, fmt.Errorf("the model puller at %s answered %s: %w", base, resp.Status, err)
		case resp.StatusCode == http.StatusNotFound:
			return "", 0, fmt.Errorf("%w: %s", fs.ErrNotExist, a.Error)
		case resp.StatusCode != http.StatusOK:
			return "", 0, errors.New(a.Error)
		}
		return a.Dir, time.Duration(a.FetchedMS) * time.Millisecond, nil
	}
}
