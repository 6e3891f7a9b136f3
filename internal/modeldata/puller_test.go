package modeldata

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPuller: a puller fetches an artifact under its prefix once, answers
// where it is, says an artifact that does not exist is not there, and
// refuses a URL outside its prefix.
func TestPuller(t *testing.T) {
	objects := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/models/a.bin" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("weights"))
	}))
	defer objects.Close()
	fetches := 0
	p := &Puller{Prefix: objects.URL + "/models/", Cache: &Cache{Dir: t.TempDir(), Fill: func(ctx context.Context, url, dest string) (string, error) {
		fetches++
		return dest, Fetch(ctx, url, dest, Options{})
	}}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	ctx := context.Background()
	for range 2 {
		dir, _, err := Pull(ctx, srv.Client(), srv.URL, objects.URL+"/models/a.bin")
		if err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "a.bin")); string(b) != "weights" {
			t.Fatalf("%s/a.bin: %q, %v", dir, b, err)
		}
	}
	if fetches != 1 {
		t.Errorf("fetched %d times, want once", fetches)
	}
	if _, _, err := Pull(ctx, srv.Client(), srv.URL, objects.URL+"/models/missing.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing artifact: %v, want fs.ErrNotExist", err)
	}
	for _, url := range []string{objects.URL + "/secrets", objects.URL + "/models/../secrets", objects.URL + "/models/"} {
		if _, _, err := Pull(ctx, srv.Client(), srv.URL, url); err == nil || !strings.Contains(err.Error(), "is not under this model's ModelDataUrl") {
			t.Errorf("%s: %v, want refused", url, err)
		}
	}
	if resp, err := http.Get(srv.URL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %v %v", resp, err)
	}
}

// TestPullWaitsForThePuller: a puller not listening yet (its container
// starting) is asked again until it answers.
func TestPullWaitsForThePuller(t *testing.T) {
	srv := httptest.NewUnstartedServer(&Puller{Prefix: "http://x/m/", Cache: &Cache{Dir: t.TempDir(), Fill: func(_ context.Context, _, dest string) (string, error) {
		return dest, os.MkdirAll(dest, 0o755)
	}}})
	addr := srv.Listener.Addr().String()
	srv.Listener.Close() // refused until it listens again
	type result struct {
		dir string
		err error
	}
	done := make(chan result, 1)
	go func() {
		dir, _, err := Pull(context.Background(), http.DefaultClient, "http://"+addr, "http://x/m/a")
		done <- result{dir, err}
	}()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	if r := <-done; r.err != nil || filepath.Base(r.dir) == "" {
		t.Fatalf("Pull = %q, %v; want the artifact once the puller listens", r.dir, r.err)
	}
}
