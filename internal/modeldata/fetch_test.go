package modeldata

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func archive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestFetch(t *testing.T) {
	objects := map[string][]byte{
		"/model.tar.gz":  archive(t, map[string]string{"weights.txt": "0.5", "conf/a.json": "{}"}),
		"/escape.tar.gz": archive(t, map[string]string{"../../etc/evil": "x"}),
		"/weights.bin":   []byte("raw"),
		"/big.bin":       bytes.Repeat([]byte("x"), 4096),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := objects[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	ctx := context.Background()

	dest := t.TempDir()
	if err := Fetch(ctx, srv.URL+"/model.tar.gz", dest, Options{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"weights.txt": "0.5", "conf/a.json": "{}"} {
		if got, _ := os.ReadFile(filepath.Join(dest, name)); string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	dest = t.TempDir()
	if err := Fetch(ctx, srv.URL+"/weights.bin", dest, Options{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "weights.bin")); string(got) != "raw" {
		t.Errorf("weights.bin = %q", got)
	}
	// An entry that climbs out of /opt/ml/model lands inside it.
	dest = t.TempDir()
	if err := Fetch(ctx, srv.URL+"/escape.tar.gz", dest, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dest, "etc", "evil")); err != nil {
		t.Errorf("the climbing entry was not kept inside the model directory: %v", err)
	}
	for _, c := range []struct{ url, want string }{
		{srv.URL + "/missing.tar.gz", "404"},
		{srv.URL + "/big.bin", "larger than 1024 bytes"},
		{"s3://bucket/model.tar.gz", "no S3 endpoint"},
		{"ftp://host/model.tar.gz", "only s3://"},
	} {
		err := Fetch(ctx, c.url, t.TempDir(), Options{MaxBytes: 1024})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Fetch(%s) = %v, want an error containing %q", c.url, err, c.want)
		}
	}
}
