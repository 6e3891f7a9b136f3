// Package objstore is the S3-compatible subset ebb serves on its listener
// for async inference payloads and model data: path-style CreateBucket,
// HeadBucket, ListBuckets, PutObject, GetObject (with Range and
// conditional requests), HeadObject, DeleteObject, DeleteObjects,
// ListObjects and ListObjectsV2 (with Delimiter), and multipart uploads,
// with MD5 ETags as S3's, kept as files under the data directory. It is
// enough for the usual async code (boto3's upload_file, invoke, poll or
// download_file the output) to run unchanged against ebb; what it does not
// implement is refused with NotImplemented.
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

// Put writes an object atomically (temporary file, fsync, rename) and
// returns its ETag, the hex MD5 of its bytes in quotes, as S3's.
func (s *Store) Put(bucket, key string, r io.Reader) (string, error) {
	if !s.bucketExists(bucket) {
		return "", ErrNoSuchBucket
	}
	p, err := s.path(bucket, key)
	if err != nil {
		return "", err
	}
	tmp, sum, _, err := s.spool(bucket, r, s.MaxObject)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	etag := `"` + hex.EncodeToString(sum) + `"`
	return etag, s.commit(bucket, key, p, tmp, etag)
}

// spool copies r, up to max bytes, into a synced temporary file of the
// bucket and returns its name, the MD5 of what it holds, and its size.
func (s *Store) spool(bucket string, r io.Reader, max int64) (name string, sum []byte, n int64, err error) {
	tmp, err := os.CreateTemp(filepath.Join(s.Dir, bucket), ".upload-*")
	if err != nil {
		return "", nil, 0, err
	}
	h := md5.New()
	n, err = io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if err == nil && n > max {
		err = &Error{"EntityTooLarge", http.StatusBadRequest, fmt.Sprintf("Your proposed upload exceeds the maximum allowed size (%d bytes).", max)}
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", nil, 0, err
	}
	return tmp.Name(), h.Sum(nil), n, nil
}

// commit moves a spooled file to the object's path and records its ETag
// beside it (etags/ mirrors objects/).
func (s *Store) commit(bucket, key, p, tmp, etag string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	return s.writeETag(bucket, key, etag)
}

func (s *Store) etagPath(bucket, key string) string {
	return filepath.Join(s.Dir, bucket, "etags", filepath.Clean("/"+key))
}

func (s *Store) writeETag(bucket, key, etag string) error {
	p := s.etagPath(bucket, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(etag), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// ETag returns an object's ETag; an object stored before ETags were kept
// gets its MD5 computed once.
func (s *Store) ETag(bucket, key string) (string, error) {
	if b, err := os.ReadFile(s.etagPath(bucket, key)); err == nil {
		return string(b), nil
	}
	f, err := s.Get(bucket, key)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	etag := `"` + hex.EncodeToString(h.Sum(nil)) + `"`
	return etag, s.writeETag(bucket, key, etag)
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
	if err := os.Remove(s.etagPath(bucket, key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
		etag, err := s.ETag(bucket, key)
		if err != nil {
			return err
		}
		out = append(out, object{Key: key, LastModified: info.ModTime().UTC().Format(time.RFC3339Nano), Size: info.Size(), StorageClass: "STANDARD", ETag: etag})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
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
