package modeldata

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ebbscale/ebb/internal/objstore"
)

// DefaultMaxBytes bounds what one model may take on disk.
const DefaultMaxBytes = 20 << 30

// Options configure Fetch.
type Options struct {
	// S3Endpoint serves s3:// URLs (ebb's own S3 API, or --s3-endpoint),
	// path-style, signed with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY when set.
	S3Endpoint, Region string
	// MaxBytes bounds the download and what it extracts to (default
	// DefaultMaxBytes).
	MaxBytes int64
	// Client fetches http(s):// URLs (default http.DefaultClient).
	Client *http.Client
}

// Fetch downloads the model artifacts at rawURL into dest: a .tar.gz
// (.tgz) archive is extracted, any other object is written as one file
// named after the URL's last element, as SageMaker's S3Object data type
// places it under /opt/ml/model. An object that does not exist (404) is an
// error wrapping fs.ErrNotExist.
func Fetch(ctx context.Context, rawURL, dest string, o Options) error {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("ModelDataUrl %q: %w", rawURL, err)
	}
	var body io.ReadCloser
	switch u.Scheme {
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return err
		}
		c := o.Client
		if c == nil {
			c = http.DefaultClient
		}
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("ModelDataUrl %q: %w", rawURL, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				return fmt.Errorf("ModelDataUrl %q: %w (GET answered %s)", rawURL, fs.ErrNotExist, resp.Status)
			}
			return fmt.Errorf("ModelDataUrl %q: GET answered %s", rawURL, resp.Status)
		}
		body = resp.Body
	case "s3":
		if o.S3Endpoint == "" {
			return fmt.Errorf("ModelDataUrl %q: no S3 endpoint is configured for s3:// URLs", rawURL)
		}
		bucket, key, err := objstore.ParseURI(rawURL)
		if err != nil {
			return fmt.Errorf("ModelDataUrl %q: %w", rawURL, err)
		}
		body, err = objstore.NewRemote(o.S3Endpoint, o.Region).Open(ctx, bucket, key)
		if err != nil {
			return fmt.Errorf("ModelDataUrl %q: %w", rawURL, err)
		}
	default:
		return fmt.Errorf("ModelDataUrl %q: only s3://, http:// and https:// URLs can be fetched", rawURL)
	}
	defer body.Close()
	limited := &limitedReader{r: body, max: o.MaxBytes}
	name := path.Base(u.Path)
	if strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz") {
		if err := Extract(limited, dest, o.MaxBytes); err != nil {
			return fmt.Errorf("ModelDataUrl %q: %w", rawURL, err)
		}
		return nil
	}
	if name == "" || name == "/" || name == "." {
		name = "model"
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dest, name))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, limited); err != nil {
		f.Close()
		return fmt.Errorf("ModelDataUrl %q: %w", rawURL, err)
	}
	return f.Close()
}

// limitedReader fails, rather than truncating, past max bytes.
type limitedReader struct {
	r         io.Reader
	read, max int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.read += int64(n); l.read > l.max {
		return n, fmt.Errorf("the model data is larger than %d bytes (--max-model-bytes)", l.max)
	}
	return n, err
}
