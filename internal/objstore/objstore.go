// Package objstore is the S3-compatible subset ebb serves on its listener
// for async inference payloads: path-style CreateBucket, ListBuckets,
// PutObject, GetObject, HeadObject, DeleteObject and ListObjectsV2, kept as
// files under the data directory. It is enough for the usual async code
// (upload the input with an S3 client, invoke, poll the output) to run
// unchanged against ebb.
package objstore

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
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
	// Logger gets the errors answered as InternalError; may be nil.
	Logger *slog.Logger
}

// New returns a store rooted at dir.
func New(dir string) *Store { return &Store{Dir: dir, MaxObject: 1 << 30} }

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ErrNoSuchKey and ErrNoSuchBucket are S3's errors.
var (
	ErrNoSuchKey    = errors.New("NoSuchKey")
	ErrNoSuchBucket = errors.New("NoSuchBucket")
)

// Error is an S3 error: its code, status and message.
type Error struct {
	Code    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalidBucket(bucket string) error {
	return &Error{"InvalidBucketName", http.StatusBadRequest, fmt.Sprintf("The specified bucket is not valid: %q.", bucket)}
}

func (s *Store) path(bucket, key string) (string, error) {
	if !bucketRE.MatchString(bucket) {
		return "", invalidBucket(bucket)
	}
	clean := filepath.Clean("/" + key)
	dots := false
	for _, seg := range strings.Split(key, "/") {
		dots = dots || seg == "." || seg == ".."
	}
	// Keys are literal in S3; as file names "." and ".." segments would
	// alias other objects, so they are refused.
	if key == "" || dots || strings.Contains(key, "\x00") || clean == "/" || len(key) > 1024 {
		return "", &Error{"InvalidArgument", http.StatusBadRequest, fmt.Sprintf("Object key %q is not valid here: 1 to 1024 bytes, no NUL, no \".\" or \"..\" segments, not only slashes.", key)}
	}
	return filepath.Join(s.Dir, bucket, "objects", clean), nil
}

// CreateBucket makes a bucket (idempotent).
func (s *Store) CreateBucket(bucket string) error {
	if !bucketRE.MatchString(bucket) {
		return invalidBucket(bucket)
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
		err = &Error{"EntityTooLarge", http.StatusBadRequest, fmt.Sprintf("Your proposed upload exceeds the maximum allowed object size (%d bytes).", s.MaxObject)}
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
		body, err := requestBody(r)
		if err != nil {
			s.fail(w, r, err)
			return
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

// fail answers err as S3 does. Errors that are not S3's own (file system
// errors) are logged and answered as InternalError without their text,
// which would name paths under the data directory.
func (s *Store) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
		WriteError(w, r, e.Code, e.Status, e.Message)
	case errors.Is(err, ErrNoSuchKey):
		WriteError(w, r, "NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
	case errors.Is(err, ErrNoSuchBucket):
		WriteError(w, r, "NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist.")
	case err.Error() == "NotImplemented":
		WriteError(w, r, "NotImplemented", http.StatusNotImplemented, "A header or operation you provided implies functionality that is not implemented.")
	default:
		if s.Logger != nil {
			s.Logger.Error("object store", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		WriteError(w, r, "InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again.")
	}
}

// WriteError answers with S3's XML error (only the status for HEAD).
func WriteError(w http.ResponseWriter, r *http.Request, code string, status int, message string) {
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	writeXML(w, status, struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestId string
	}{Code: code, Message: message, Resource: r.URL.Path, RequestId: w.Header().Get("X-Amzn-Requestid")})
}
