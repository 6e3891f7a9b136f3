// Package objstore is the S3-compatible subset ebb serves on its listener
// for async inference payloads: path-style CreateBucket, ListBuckets,
// PutObject, GetObject, HeadObject, DeleteObject and ListObjectsV2, kept as
// files under the data directory. It is enough for the usual async code
// (upload the input with an S3 client, invoke, poll the output) to run
// unchanged against ebb.
package objstore

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Store keeps buckets as directories and objects as files.
type Store struct {
	Dir string
	// MaxObject bounds one object (async payloads go up to 1 GB).
	MaxObject int64
}

// New returns a store rooted at dir.
func New(dir string) *Store { return &Store{Dir: dir, MaxObject: 1 << 30} }

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ErrNoSuchKey and ErrNoSuchBucket are S3's errors.
var (
	ErrNoSuchKey    = errors.New("NoSuchKey")
	ErrNoSuchBucket = errors.New("NoSuchBucket")
)

func (s *Store) path(bucket, key string) (string, error) {
	if !bucketRE.MatchString(bucket) {
		return "", fmt.Errorf("invalid bucket name %q", bucket)
	}
	clean := filepath.Clean("/" + key)
	if key == "" || strings.Contains(key, "\x00") || clean == "/" {
		return "", fmt.Errorf("invalid key %q", key)
	}
	return filepath.Join(s.Dir, bucket, "objects", clean), nil
}

// CreateBucket makes a bucket (idempotent).
func (s *Store) CreateBucket(bucket string) error {
	if !bucketRE.MatchString(bucket) {
		return fmt.Errorf("invalid bucket name %q", bucket)
	}
	return os.MkdirAll(filepath.Join(s.Dir, bucket, "objects"), 0o755)
}

func (s *Store) bucketExists(bucket string) bool {
	info, err := os.Stat(filepath.Join(s.Dir, bucket, "objects"))
	return err == nil && info.IsDir()
}

// Put writes an object atomically (temporary file, fsync, rename).
func (s *Store) Put(bucket, key string, r io.Reader) (string, error) {
	if !s.bucketExists(bucket) {
		return "", ErrNoSuchBucket
	}
	p, err := s.path(bucket, key)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Join(s.Dir, bucket), ".upload-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, s.MaxObject+1))
	if err == nil && n > s.MaxObject {
		err = fmt.Errorf("object larger than %d bytes", s.MaxObject)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`, os.Rename(tmp.Name(), p)
}

// PutBytes writes an object from memory.
func (s *Store) PutBytes(bucket, key string, b []byte) error {
	_, err := s.Put(bucket, key, bytes.NewReader(b))
	return err
}

// Get opens an object.
func (s *Store) Get(bucket, key string) (*os.File, error) {
	if !s.bucketExists(bucket) {
		return nil, ErrNoSuchBucket
	}
	p, err := s.path(bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoSuchKey
	}
	if err == nil {
		if info, _ := f.Stat(); info != nil && info.IsDir() {
			f.Close()
			return nil, ErrNoSuchKey
		}
	}
	return f, err
}

// ReadAll reads an object up to max bytes.
func (s *Store) ReadAll(bucket, key string, max int64) ([]byte, error) {
	f, err := s.Get(bucket, key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if int64(len(b)) > max {
		return nil, fmt.Errorf("object larger than %d bytes", max)
	}
	return b, err
}

// Delete removes an object (absent objects are not an error, as in S3).
func (s *Store) Delete(bucket, key string) error {
	if !s.bucketExists(bucket) {
		return ErrNoSuchBucket
	}
	p, err := s.path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// ParseURI splits s3://bucket/key.
func ParseURI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URI", uri)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", uri)
	}
	return bucket, key, nil
}

type object struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
}

func (s *Store) list(bucket, prefix string) ([]object, error) {
	if !s.bucketExists(bucket) {
		return nil, ErrNoSuchBucket
	}
	root := filepath.Join(s.Dir, bucket, "objects")
	var out []object
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key := filepath.ToSlash(strings.TrimPrefix(p, root+string(os.PathSeparator)))
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, object{Key: key, LastModified: info.ModTime().UTC().Format(time.RFC3339Nano), Size: info.Size(), StorageClass: "STANDARD", ETag: `""`})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}

// ServeHTTP answers the path-style S3 subset.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	switch {
	case bucket == "" && r.Method == http.MethodGet:
		s.listBuckets(w)
	case key == "" && r.Method == http.MethodPut:
		if err := s.CreateBucket(bucket); err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Location", "/"+bucket)
	case key == "" && r.Method == http.MethodHead:
		if !s.bucketExists(bucket) {
			s.fail(w, r, ErrNoSuchBucket)
		}
	case key == "" && r.Method == http.MethodGet:
		s.listObjects(w, r, bucket)
	case r.Method == http.MethodPut:
		body := io.Reader(r.Body)
		if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") || strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
			body = newChunkedReader(r.Body)
		}
		etag, err := s.Put(bucket, key, body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("ETag", etag)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		f, err := s.Get(bucket, key)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		defer f.Close()
		info, _ := f.Stat()
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size(), 10))
		w.Header().Set("Last-Modified", info.ModTime().UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.Method == http.MethodGet {
			io.Copy(w, f)
		}
	case r.Method == http.MethodDelete:
		if err := s.Delete(bucket, key); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		s.fail(w, r, errors.New("NotImplemented"))
	}
}

func (s *Store) listBuckets(w http.ResponseWriter) {
	type bucketEntry struct {
		Name         string
		CreationDate string
	}
	res := struct {
		XMLName xml.Name      `xml:"ListAllMyBucketsResult"`
		Xmlns   string        `xml:"xmlns,attr"`
		Buckets []bucketEntry `xml:"Buckets>Bucket"`
	}{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/"}
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if e.IsDir() && s.bucketExists(e.Name()) {
			info, _ := e.Info()
			res.Buckets = append(res.Buckets, bucketEntry{e.Name(), info.ModTime().UTC().Format(time.RFC3339)})
		}
	}
	writeXML(w, http.StatusOK, res)
}

func (s *Store) listObjects(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	all, err := s.list(bucket, q.Get("prefix"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	max := 1000
	if n, err := strconv.Atoi(q.Get("max-keys")); err == nil && n >= 0 && n < max {
		max = n
	}
	start := 0
	after := q.Get("continuation-token")
	if after == "" {
		after = q.Get("start-after")
	}
	for start < len(all) && after != "" && all[start].Key <= after {
		start++
	}
	end := min(start+max, len(all))
	res := struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Xmlns                 string   `xml:"xmlns,attr"`
		Name                  string
		Prefix                string
		KeyCount              int
		MaxKeys               int
		IsTruncated           bool
		Contents              []object
		NextContinuationToken string `xml:",omitempty"`
	}{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/", Name: bucket, Prefix: q.Get("prefix"), KeyCount: end - start, MaxKeys: max,
		IsTruncated: end < len(all), Contents: all[start:end]}
	if res.IsTruncated {
		res.NextContinuationToken = all[end-1].Key
	}
	writeXML(w, http.StatusOK, res)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, _ := xml.Marshal(v)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

func (s *Store) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, status := "InvalidRequest", http.StatusBadRequest
	switch {
	case errors.Is(err, ErrNoSuchKey):
		code, status = "NoSuchKey", http.StatusNotFound
	case errors.Is(err, ErrNoSuchBucket):
		code, status = "NoSuchBucket", http.StatusNotFound
	case err.Error() == "NotImplemented":
		code, status = "NotImplemented", http.StatusNotImplemented
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	writeXML(w, status, struct {
		XMLName  xml.Name `xml:"Error"`
		Code     string
		Message  string
		Resource string
	}{Code: code, Message: err.Error(), Resource: r.URL.Path})
}

// chunkedReader decodes aws-chunked bodies ("size;chunk-signature=...\r\n
// data\r\n ... 0\r\n trailers\r\n\r\n"), which S3 clients send for
// streaming uploads.
type chunkedReader struct {
	br   *bufio.Reader
	left int64
	done bool
}

func newChunkedReader(r io.Reader) *chunkedReader { return &chunkedReader{br: bufio.NewReader(r)} }

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		line, err := c.br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue // the CRLF after a chunk's data
		}
		sizeHex, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("aws-chunked: bad chunk header %q", line)
		}
		if n == 0 {
			c.done = true
			io.Copy(io.Discard, c.br) // trailers
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	return n, err
}
