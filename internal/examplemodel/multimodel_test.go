package examplemodel

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMultiModelContract(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"a", "b", "c"} {
		os.MkdirAll(filepath.Join(dir, m), 0o755)
		os.WriteFile(filepath.Join(dir, m, "model.json"), []byte(`{"seed": 3, "memory_mb": 40}`), 0o644)
	}
	srv := httptest.NewServer(NewMultiModel(Config{}, 100).Handler())
	defer srv.Close()
	do := func(method, path, body string) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	load := func(m string) int {
		return do("POST", "/models", `{"model_name":"`+m+`","url":"`+filepath.Join(dir, m)+`"}`)
	}
	for _, c := range []struct {
		got, want int
		what      string
	}{
		{load("a"), 200, "load a"},
		{load("a"), 409, "load a again"},
		{load("b"), 200, "load b"},
		{load("c"), 507, "load c beyond the memory"},
		{do("POST", "/models/c/invoke", "1,2"), 404, "invoke c, not loaded"},
		{do("POST", "/models/a/invoke", "1,2"), 200, "invoke a"},
		{do("DELETE", "/models/a", ""), 200, "unload a"},
		{load("c"), 200, "load c once a is gone"},
		{do("GET", "/models/c", ""), 200, "describe c"},
		{do("GET", "/models/a", ""), 404, "describe a, unloaded"},
	} {
		if c.got != c.want {
			t.Fatalf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
}
