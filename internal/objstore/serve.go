package objstore

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ServeHTTP answers the path-style S3 subset. A request for a
// subresource ebb does not implement (?acl, ?tagging, ?versioning, a copy
// with x-amz-copy-source, ...) is refused with NotImplemented rather than
// taken as a plain object operation.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	if sub := unknownSubresource(q); sub != "" {
		s.fail(w, r, &Error{"NotImplemented", http.StatusNotImplemented, "ebb's object store does not implement the ?" + sub + " subresource."})
		return
	}
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		s.fail(w, r, &Error{"NotImplemented", http.StatusNotImplemented, "ebb's object store does not implement CopyObject or UploadPartCopy (x-amz-copy-source); upload the bytes instead."})
		return
	}
	_, uploads := q["uploads"]
	_, del := q["delete"]
	uploadID := q.Get("uploadId")
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
	case key == "" && uploads && r.Method == http.MethodGet:
		s.listUploads(w, r, bucket)
	case key == "" && r.Method == http.MethodGet:
		s.listObjects(w, r, bucket)
	case uploadID != "" && r.Method == http.MethodGet:
		s.listParts(w, r, bucket, key, uploadID)
	case key == "" && r.Method == http.MethodPost && del:
		s.deleteObjects(w, r, bucket)
	case r.Method == http.MethodPost && uploads:
		s.createUpload(w, r, bucket, key)
	case r.Method == http.MethodPut && uploadID != "":
		s.uploadPart(w, r, bucket, key, uploadID, q.Get("partNumber"))
	case r.Method == http.MethodPost && uploadID != "":
		s.completeUpload(w, r, bucket, key, uploadID)
	case r.Method == http.MethodDelete && uploadID != "":
		if err := s.abortUpload(bucket, key, uploadID); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut:
		body, _, err := requestBody(r)
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
		etag, err := s.ETag(bucket, key)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		info, _ := f.Stat()
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Accept-Ranges", "bytes")
		// ServeContent answers Range, If-Match, If-None-Match and
		// If-Modified-Since as S3 does.
		http.ServeContent(w, r, "", info.ModTime(), f)
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

// knownParams are the query parameters of the operations served, and what
// clients add that changes nothing (x-id names the operation for the Go
// SDK; X-Amz-* carry a presigned URL's signature).
var knownParams = map[string]bool{
	"uploads": true, "uploadId": true, "partNumber": true, "delete": true, "x-id": true,
	"list-type": true, "prefix": true, "delimiter": true, "max-keys": true, "marker": true,
	"continuation-token": true, "start-after": true, "encoding-type": true, "fetch-owner": true,
	"max-uploads": true, "key-marker": true, "upload-id-marker": true, "max-parts": true, "part-number-marker": true,
}

func unknownSubresource(q url.Values) string {
	for k := range q {
		if !knownParams[k] && !strings.HasPrefix(k, "X-Amz-") && !strings.HasPrefix(k, "response-") {
			return k
		}
	}
	return ""
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

type commonPrefix struct{ Prefix string }

// rollUp is what a key under prefix lists as with a delimiter: the key
// itself, or its common prefix, up to and including the first delimiter
// after prefix.
func rollUp(key, prefix, delim string) string {
	if delim != "" {
		if i := strings.Index(key[len(prefix):], delim); i >= 0 {
			return key[:len(prefix)+i+len(delim)]
		}
	}
	return key
}

// listObjects answers ListObjectsV2 (list-type=2) and ListObjects (v1),
// with Delimiter rolling keys up into CommonPrefixes.
func (s *Store) listObjects(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	all, err := s.list(bucket, prefix)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	max := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, r, &Error{"InvalidArgument", http.StatusBadRequest, "max-keys must be a non-negative integer."})
			return
		}
		max = min(n, max)
	}
	v2 := q.Get("list-type") == "2"
	after := q.Get("marker")
	if v2 {
		after = q.Get("start-after")
		if t := q.Get("continuation-token"); t != "" {
			after = t
		}
	}
	var contents []object
	var prefixes []commonPrefix
	seen := map[string]bool{}
	truncated, last := false, ""
	for _, o := range all {
		if after != "" && o.Key <= after {
			continue
		}
		entry := rollUp(o.Key, prefix, delim)
		if entry != o.Key && (seen[entry] || after != "" && entry <= after) {
			continue
		}
		if len(contents)+len(prefixes) == max {
			truncated = true
			break
		}
		if entry != o.Key {
			seen[entry] = true
			prefixes = append(prefixes, commonPrefix{entry})
		} else {
			contents = append(contents, o)
		}
		last = entry
	}
	type result struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Xmlns                 string   `xml:"xmlns,attr"`
		Name                  string
		Prefix                string
		Delimiter             string `xml:",omitempty"`
		Marker                *string
		NextMarker            string `xml:",omitempty"`
		StartAfter            string `xml:",omitempty"`
		ContinuationToken     string `xml:",omitempty"`
		NextContinuationToken string `xml:",omitempty"`
		KeyCount              *int
		MaxKeys               int
		IsTruncated           bool
		Contents              []object
		CommonPrefixes        []commonPrefix
	}
	res := result{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/", Name: bucket, Prefix: prefix, Delimiter: delim, MaxKeys: max,
		IsTruncated: truncated, Contents: contents, CommonPrefixes: prefixes}
	if v2 {
		n := len(contents) + len(prefixes)
		res.KeyCount, res.StartAfter, res.ContinuationToken = &n, q.Get("start-after"), q.Get("continuation-token")
		if truncated {
			res.NextContinuationToken = last
		}
	} else {
		marker := q.Get("marker")
		res.Marker = &marker
		if truncated && delim != "" {
			res.NextMarker = last // without a delimiter clients use the last key
		}
	}
	writeXML(w, http.StatusOK, res)
}

// deleteObjects answers DeleteObjects: each key deleted (absent keys too,
// as S3), reported unless Quiet.
func (s *Store) deleteObjects(w http.ResponseWriter, r *http.Request, bucket string) {
	var req struct {
		Quiet   bool
		Objects []struct{ Key string } `xml:"Object"`
	}
	if err := xml.NewDecoder(io.LimitReader(r.Body, 2<<20)).Decode(&req); err != nil {
		s.fail(w, r, &Error{"MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."})
		return
	}
	if len(req.Objects) > 1000 {
		s.fail(w, r, &Error{"MalformedXML", http.StatusBadRequest, "DeleteObjects takes at most 1000 keys."})
		return
	}
	type deleted struct{ Key string }
	type failed struct{ Key, Code, Message string }
	res := struct {
		XMLName xml.Name  `xml:"DeleteResult"`
		Xmlns   string    `xml:"xmlns,attr"`
		Deleted []deleted `xml:"Deleted"`
		Errors  []failed  `xml:"Error"`
	}{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/"}
	for _, o := range req.Objects {
		err := s.Delete(bucket, o.Key)
		var e *Error
		switch {
		case errors.Is(err, ErrNoSuchBucket):
			s.fail(w, r, err)
			return
		case errors.As(err, &e):
			res.Errors = append(res.Errors, failed{o.Key, e.Code, e.Message})
		case err != nil:
			res.Errors = append(res.Errors, failed{o.Key, "InternalError", "We encountered an internal error. Please try again."})
		case !req.Quiet:
			res.Deleted = append(res.Deleted, deleted{o.Key})
		}
	}
	writeXML(w, http.StatusOK, res)
}
