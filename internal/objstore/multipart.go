package objstore

import (
	"cmp"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Multipart uploads (CreateMultipartUpload, UploadPart,
// CompleteMultipartUpload, AbortMultipartUpload, ListMultipartUploads,
// ListParts), which boto3's
// upload_file uses above 8 MB. An upload is a directory of the bucket,
// uploads/<id>/, holding the key and each part with its ETag and the
// checksums its request declared (verified as the part arrived, compared
// again when the upload completes).

// Limits of S3's multipart uploads.
const (
	maxParts    = 10000
	minPartSize = 5 << 20 // every part but the last
)

var uploadIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func noSuchUpload() error {
	return &Error{"NoSuchUpload", http.StatusNotFound, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."}
}

// uploadDir returns an upload's directory, checking that it is one of key.
func (s *Store) uploadDir(bucket, key, id string) (string, error) {
	if !s.bucketExists(bucket) {
		return "", ErrNoSuchBucket
	}
	if !uploadIDRE.MatchString(id) {
		return "", noSuchUpload()
	}
	dir := filepath.Join(s.Dir, bucket, "uploads", id)
	b, err := os.ReadFile(filepath.Join(dir, "key"))
	if err != nil || string(b) != key {
		return "", noSuchUpload()
	}
	return dir, nil
}

func (s *Store) createUpload(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if !s.bucketExists(bucket) {
		s.fail(w, r, ErrNoSuchBucket)
		return
	}
	if _, err := s.path(bucket, key); err != nil {
		s.fail(w, r, err)
		return
	}
	raw := make([]byte, 16)
	rand.Read(raw)
	id := hex.EncodeToString(raw)
	dir := filepath.Join(s.Dir, bucket, "uploads", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte(key), 0o644); err != nil {
		s.fail(w, r, err)
		return
	}
	if a := r.Header.Get("X-Amz-Checksum-Algorithm"); a != "" {
		w.Header().Set("X-Amz-Checksum-Algorithm", a)
	}
	writeXML(w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		Xmlns    string   `xml:"xmlns,attr"`
		Bucket   string
		Key      string
		UploadId string
	}{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/", Bucket: bucket, Key: key, UploadId: id})
}

// checksumHeaders are the part checksums S3 records and echoes.
var checksumHeaders = []string{"X-Amz-Checksum-Crc32", "X-Amz-Checksum-Crc32c", "X-Amz-Checksum-Sha1", "X-Amz-Checksum-Sha256"}

func (s *Store) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key, id, number string) {
	dir, err := s.uploadDir(bucket, key, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 || n > maxParts {
		s.fail(w, r, &Error{"InvalidArgument", http.StatusBadRequest, fmt.Sprintf("Part number must be an integer between 1 and %d, inclusive.", maxParts)})
		return
	}
	body, declared, err := requestBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tmp, sum, _, err := s.spool(bucket, body, s.MaxObject)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer os.Remove(tmp)
	sums := map[string]string{}
	for _, h := range checksumHeaders {
		if v := declared.Get(h); v != "" {
			sums[h] = v
			w.Header().Set(h, v)
		}
	}
	etag := `"` + hex.EncodeToString(sum) + `"`
	meta, _ := json.Marshal(struct {
		ETag string
		Sums map[string]string
	}{etag, sums})
	part := filepath.Join(dir, strconv.Itoa(n))
	if err := os.Rename(tmp, part); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := os.WriteFile(part+".json", meta, 0o644); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag)
}

func (s *Store) completeUpload(w http.ResponseWriter, r *http.Request, bucket, key, id string) {
	dir, err := s.uploadDir(bucket, key, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req struct {
		Parts []struct {
			PartNumber                                                  int
			ETag                                                        string
			ChecksumCRC32, ChecksumCRC32C, ChecksumSHA1, ChecksumSHA256 string
		} `xml:"Part"`
	}
	if err := xml.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil || len(req.Parts) == 0 {
		s.fail(w, r, &Error{"MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."})
		return
	}
	invalidPart := func(n int, why string) {
		s.fail(w, r, &Error{"InvalidPart", http.StatusBadRequest, fmt.Sprintf("One or more of the specified parts could not be found or did not match: part %d %s.", n, why)})
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	digests := md5.New()
	var total int64
	for i, p := range req.Parts {
		if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
			s.fail(w, r, &Error{"InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number."})
			return
		}
		part := filepath.Join(dir, strconv.Itoa(p.PartNumber))
		var meta struct {
			ETag string
			Sums map[string]string
		}
		b, err := os.ReadFile(part + ".json")
		if err != nil || json.Unmarshal(b, &meta) != nil {
			invalidPart(p.PartNumber, "was not uploaded")
			return
		}
		if strings.Trim(p.ETag, `"`) != strings.Trim(meta.ETag, `"`) {
			invalidPart(p.PartNumber, "has another ETag")
			return
		}
		for h, v := range map[string]string{"X-Amz-Checksum-Crc32": p.ChecksumCRC32, "X-Amz-Checksum-Crc32c": p.ChecksumCRC32C,
			"X-Amz-Checksum-Sha1": p.ChecksumSHA1, "X-Amz-Checksum-Sha256": p.ChecksumSHA256} {
			if v != "" && meta.Sums[h] != v {
				invalidPart(p.PartNumber, "has another "+strings.TrimPrefix(h, "X-Amz-")+" than its upload declared")
				return
			}
		}
		f, err := os.Open(part)
		if err != nil {
			invalidPart(p.PartNumber, "was not uploaded")
			return
		}
		files = append(files, f)
		info, _ := f.Stat()
		if i < len(req.Parts)-1 && info.Size() < minPartSize {
			s.fail(w, r, &Error{"EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed size: every part but the last must be at least 5 MiB."})
			return
		}
		total += info.Size()
		raw, _ := hex.DecodeString(strings.Trim(meta.ETag, `"`))
		digests.Write(raw)
	}
	readers := make([]io.Reader, len(files))
	for i, f := range files {
		readers[i] = f
	}
	p, _ := s.path(bucket, key)
	tmp, _, _, err := s.spool(bucket, io.MultiReader(readers...), s.MaxObject)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer os.Remove(tmp)
	etag := fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(digests.Sum(nil)), len(req.Parts))
	if err := s.commit(bucket, key, p, tmp, etag); err != nil {
		s.fail(w, r, err)
		return
	}
	os.RemoveAll(dir)
	writeXML(w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		Xmlns    string   `xml:"xmlns,attr"`
		Location string
		Bucket   string
		Key      string
		ETag     string
	}{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/", Location: "/" + bucket + "/" + key, Bucket: bucket, Key: key, ETag: etag})
}

func (s *Store) abortUpload(bucket, key, id string) error {
	dir, err := s.uploadDir(bucket, key, id)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// openUpload is one multipart upload in progress.
type openUpload struct {
	Key       string
	UploadId  string
	Initiated time.Time
}

// uploads lists a bucket's uploads in progress whose keys start with
// prefix, by key and then by the time each was initiated, as S3 orders them.
func (s *Store) uploads(bucket, prefix string) ([]openUpload, error) {
	if !s.bucketExists(bucket) {
		return nil, ErrNoSuchBucket
	}
	entries, err := os.ReadDir(filepath.Join(s.Dir, bucket, "uploads"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []openUpload
	for _, e := range entries {
		if !uploadIDRE.MatchString(e.Name()) {
			continue
		}
		keyFile := filepath.Join(s.Dir, bucket, "uploads", e.Name(), "key")
		b, err := os.ReadFile(keyFile)
		info, serr := os.Stat(keyFile)
		if err != nil || serr != nil || !strings.HasPrefix(string(b), prefix) {
			continue // being created or aborted
		}
		out = append(out, openUpload{string(b), e.Name(), info.ModTime().UTC()})
	}
	slices.SortFunc(out, func(a, b openUpload) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Initiated.Compare(b.Initiated), strings.Compare(a.UploadId, b.UploadId))
	})
	return out, nil
}

// maxParam reads a max-* query parameter: at most 1000, as S3 caps it.
func maxParam(q url.Values, name string) (int, error) {
	v := q.Get(name)
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &Error{"InvalidArgument", http.StatusBadRequest, name + " must be a non-negative integer."}
	}
	return min(n, 1000), nil
}

// owner is the one owner and initiator ebb reports: the account.
type owner struct{ ID, DisplayName string }

var ebbOwner = owner{"ebb", "ebb"}

// listUploads answers ListMultipartUploads: the uploads in progress (what a
// cleanup script aborts), with prefix, delimiter, key-marker,
// upload-id-marker and max-uploads as S3 reads them.
func (s *Store) listUploads(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	max, err := maxParam(q, "max-uploads")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	all, err := s.uploads(bucket, prefix)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type upload struct {
		Key          string
		UploadId     string
		Initiator    owner
		Owner        owner
		StorageClass string
		Initiated    string
	}
	res := struct {
		XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
		Xmlns              string   `xml:"xmlns,attr"`
		Bucket             string
		KeyMarker          string
		UploadIdMarker     string
		NextKeyMarker      string
		NextUploadIdMarker string
		Prefix             string
		Delimiter          string `xml:",omitempty"`
		MaxUploads         int
		IsTruncated        bool
		Uploads            []upload       `xml:"Upload"`
		CommonPrefixes     []commonPrefix `xml:"CommonPrefixes"`
	}{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/", Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: idMarker,
		Prefix: prefix, Delimiter: delim, MaxUploads: max}
	seen := map[string]bool{}
	for _, u := range all {
		// After the markers: later keys, or the marker's key's uploads
		// after upload-id-marker (without one, the key's are all past).
		if keyMarker != "" && (u.Key < keyMarker || u.Key == keyMarker && (idMarker == "" || u.UploadId <= idMarker)) {
			continue
		}
		entry := rollUp(u.Key, prefix, delim)
		if entry != u.Key && (seen[entry] || keyMarker != "" && entry <= keyMarker) {
			continue
		}
		if len(res.Uploads)+len(res.CommonPrefixes) == max {
			res.IsTruncated = true
			break
		}
		if entry != u.Key {
			seen[entry] = true
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{entry})
			res.NextKeyMarker, res.NextUploadIdMarker = entry, ""
			continue
		}
		res.Uploads = append(res.Uploads, upload{u.Key, u.UploadId, ebbOwner, ebbOwner, "STANDARD", u.Initiated.Format(s3Time)})
		res.NextKeyMarker, res.NextUploadIdMarker = u.Key, u.UploadId
	}
	writeXML(w, http.StatusOK, res)
}

// s3Time is how S3 writes times in XML.
const s3Time = "2006-01-02T15:04:05.000Z"

// listParts answers ListParts: the parts of an upload uploaded so far, by
// part number, after part-number-marker, at most max-parts.
func (s *Store) listParts(w http.ResponseWriter, r *http.Request, bucket, key, id string) {
	dir, err := s.uploadDir(bucket, key, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	max, err := maxParam(q, "max-parts")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	marker := 0
	if v := q.Get("part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			s.fail(w, r, &Error{"InvalidArgument", http.StatusBadRequest, "part-number-marker must be a non-negative integer."})
			return
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var numbers []int
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".json")); err == nil && strings.HasSuffix(e.Name(), ".json") && n > marker {
			numbers = append(numbers, n)
		}
	}
	slices.Sort(numbers)
	type part struct {
		PartNumber     int
		LastModified   string
		ETag           string
		Size           int64
		ChecksumCRC32  string `xml:",omitempty"`
		ChecksumCRC32C string `xml:",omitempty"`
		ChecksumSHA1   string `xml:",omitempty"`
		ChecksumSHA256 string `xml:",omitempty"`
	}
	res := struct {
		XMLName              xml.Name `xml:"ListPartsResult"`
		Xmlns                string   `xml:"xmlns,attr"`
		Bucket               string
		Key                  string
		UploadId             string
		Initiator            owner
		Owner                owner
		StorageClass         string
		PartNumberMarker     int
		NextPartNumberMarker int
		MaxParts             int
		IsTruncated          bool
		Parts                []part `xml:"Part"`
	}{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/", Bucket: bucket, Key: key, UploadId: id, Initiator: ebbOwner, Owner: ebbOwner,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: max}
	for _, n := range numbers {
		var meta struct {
			ETag string
			Sums map[string]string
		}
		name := filepath.Join(dir, strconv.Itoa(n))
		b, err := os.ReadFile(name + ".json")
		info, serr := os.Stat(name)
		if err != nil || serr != nil || json.Unmarshal(b, &meta) != nil {
			continue // being replaced
		}
		if len(res.Parts) == max {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, part{n, info.ModTime().UTC().Format(s3Time), meta.ETag, info.Size(),
			meta.Sums["X-Amz-Checksum-Crc32"], meta.Sums["X-Amz-Checksum-Crc32c"], meta.Sums["X-Amz-Checksum-Sha1"], meta.Sums["X-Amz-Checksum-Sha256"]})
		res.NextPartNumberMarker = n
	}
	writeXML(w, http.StatusOK, res)
}
