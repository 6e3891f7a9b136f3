package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// TestS3ForRealClients: the object store is complete enough for real
// clients (Go SDK v2 and its upload manager, boto3): multipart uploads with
// S3's ETags, ranged and conditional GETs, DeleteObjects, ListObjects v1
// and v2 with a delimiter, HeadBucket, presigned GETs; what it does not
// implement is refused with NotImplemented, never taken as a plain PUT.
func TestS3ForRealClients(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.S3()
	ctx := context.Background()
	bucket := aws.String("data")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bucket}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope")}); err == nil {
		t.Fatal("HeadBucket of a missing bucket succeeded")
	}

	// 20 MB through the Go SDK's upload manager: multipart, 5 MiB parts.
	big := bytes.Repeat([]byte("0123456789abcdef"), 20<<20/16)
	up, err := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20 }).Upload(ctx,
		&s3.PutObjectInput{Bucket: bucket, Key: aws.String("in/big.bin"), Body: bytes.NewReader(big)})
	if err != nil {
		t.Fatalf("multipart upload: %v", err)
	}
	if !strings.HasSuffix(strings.Trim(aws.ToString(up.ETag), `"`), "-4") {
		t.Errorf("multipart ETag %s, want md5-of-md5s-4", aws.ToString(up.ETag))
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("in/big.bin"), Range: aws.String("bytes=16-31")})
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(part) != "0123456789abcdef" || aws.ToString(got.ContentRange) != fmt.Sprintf("bytes 16-31/%d", len(big)) {
		t.Errorf("ranged GET = %q, %s", part, aws.ToString(got.ContentRange))
	}
	small := []byte("hello")
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("in/a/x.txt"), Body: bytes.NewReader(small)})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(small)
	if want := `"` + hex.EncodeToString(sum[:]) + `"`; aws.ToString(put.ETag) != want {
		t.Errorf("PutObject ETag %s, want %s", aws.ToString(put.ETag), want)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("in/a/x.txt")})
	if err != nil || aws.ToString(head.ETag) != aws.ToString(put.ETag) {
		t.Errorf("HeadObject ETag %v, %v", head, err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("in/a/x.txt"), IfNoneMatch: put.ETag}); err == nil {
		t.Error("GET If-None-Match the ETag answered the object")
	}
	for _, k := range []string{"in/a/y.txt", "in/b/z.txt", "top.txt"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}

	// Uploads in progress are listed, with their parts, and a cleanup that
	// aborts what it lists leaves none.
	var open []string
	for _, k := range []string{"up/b.bin", "up/a.bin", "other/c.bin"} {
		u, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, aws.ToString(u.UploadId))
	}
	for n, body := range []string{"first part", "second"} {
		if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String("up/b.bin"), UploadId: aws.String(open[0]),
			PartNumber: aws.Int32(int32(n + 1)), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: bucket, Key: aws.String("up/b.bin"), UploadId: aws.String(open[0]), MaxParts: aws.Int32(1)})
	if err != nil || len(parts.Parts) != 1 || aws.ToInt64(parts.Parts[0].Size) != 10 || !aws.ToBool(parts.IsTruncated) || aws.ToString(parts.NextPartNumberMarker) != "1" {
		t.Fatalf("ListParts, one per page = %+v, %v", parts, err)
	}
	parts, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: bucket, Key: aws.String("up/b.bin"), UploadId: aws.String(open[0]), PartNumberMarker: parts.NextPartNumberMarker})
	if err != nil || len(parts.Parts) != 1 || aws.ToInt32(parts.Parts[0].PartNumber) != 2 || aws.ToInt64(parts.Parts[0].Size) != 6 || aws.ToBool(parts.IsTruncated) {
		t.Fatalf("ListParts, second page = %+v, %v", parts, err)
	}
	if _, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: bucket, Key: aws.String("up/a.bin"), UploadId: aws.String(open[0])}); !errors.As(err, new(smithy.APIError)) || !strings.Contains(err.Error(), "NoSuchUpload") {
		t.Errorf("ListParts of an upload under another key: %v, want NoSuchUpload", err)
	}
	listed, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket, Prefix: aws.String("up/")})
	if err != nil || len(listed.Uploads) != 2 || aws.ToString(listed.Uploads[0].Key) != "up/a.bin" || aws.ToString(listed.Uploads[1].UploadId) != open[0] {
		t.Fatalf("ListMultipartUploads with a prefix = %+v, %v", listed, err)
	}
	var aborted int
	for p := s3.NewListMultipartUploadsPaginator(c, &s3.ListMultipartUploadsInput{Bucket: bucket, MaxUploads: aws.Int32(1)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Uploads {
			if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: u.Key, UploadId: u.UploadId}); err != nil {
				t.Fatal(err)
			}
			aborted++
		}
	}
	if left, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket}); aborted != 3 || err != nil || len(left.Uploads) != 0 {
		t.Fatalf("cleanup aborted %d of 3 uploads; left %+v, %v", aborted, left, err)
	}

	// ListObjectsV2 and ListObjects with a delimiter, paged.
	v2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String("in/"), Delimiter: aws.String("/")})
	if err != nil || len(v2.Contents) != 1 || aws.ToString(v2.Contents[0].Key) != "in/big.bin" || len(v2.CommonPrefixes) != 2 ||
		aws.ToString(v2.CommonPrefixes[0].Prefix) != "in/a/" || aws.ToString(v2.CommonPrefixes[1].Prefix) != "in/b/" {
		t.Errorf("ListObjectsV2 with a delimiter = %+v, %v", v2, err)
	}
	var keys []string
	for p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: bucket, MaxKeys: aws.Int32(2)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if strings.Join(keys, " ") != "in/a/x.txt in/a/y.txt in/b/z.txt in/big.bin top.txt" {
		t.Errorf("paged ListObjectsV2 = %v", keys)
	}
	v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: bucket, Delimiter: aws.String("/")})
	if err != nil || len(v1.Contents) != 1 || aws.ToString(v1.Contents[0].Key) != "top.txt" || len(v1.CommonPrefixes) != 1 {
		t.Errorf("ListObjects v1 = %+v, %v", v1, err)
	}

	// DeleteObjects, an absent key included.
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bucket, Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{
		{Key: aws.String("in/a/x.txt")}, {Key: aws.String("in/a/y.txt")}, {Key: aws.String("never")}}}})
	if err != nil || len(del.Deleted) != 3 || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects = %+v, %v", del, err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("in/a/x.txt")}); err == nil {
		t.Error("a deleted object is still there")
	}

	// Presigned GET, no Authorization header.
	ps, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("top.txt")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ps.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "top.txt" {
		t.Errorf("presigned GET: %d %s", resp.StatusCode, b)
	}

	// Not implemented: refused, and the object is unchanged.
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bucket, Key: aws.String("top.txt"), Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotImplemented" {
		t.Errorf("PutObjectTagging: %v, want NotImplemented", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bucket, Key: aws.String("copy.txt"), CopySource: aws.String("data/top.txt")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotImplemented" {
		t.Errorf("CopyObject: %v, want NotImplemented", err)
	}
	if obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("top.txt")}); err == nil {
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if string(b) != "top.txt" {
			t.Errorf("a refused subresource request changed the object: %q", b)
		}
	}

	// boto3: upload_file of 20 MB (multipart above 8 MB), InvokeEndpointAsync
	// on it, download_file of the output.
	sm := s.SageMaker()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("async")}); err != nil {
		t.Fatal(err)
	}
	asyncConfig(t, sm, "s3boto", model, "")
	waitInService(t, sm, "s3boto")
	dir := t.TempDir()
	in := filepath.Join(dir, "input.csv")
	if err := os.WriteFile(in, bytes.Repeat([]byte("1,2,3\n"), 20<<20/6), 0o644); err != nil {
		t.Fatal(err)
	}
	py := `
import sys, time, boto3, botocore
url, src, dst = sys.argv[1:4]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
s3 = boto3.client("s3", config=botocore.config.Config(s3={"addressing_style": "path"}), **kw)
s3.upload_file(src, "async", "in/input.csv")
etag = s3.head_object(Bucket="async", Key="in/input.csv")["ETag"]
rt = boto3.client("sagemaker-runtime", **kw)
out = rt.invoke_endpoint_async(EndpointName="s3boto", InputLocation="s3://async/in/input.csv", ContentType="text/csv")["OutputLocation"]
key = out.split("/", 3)[3]
for _ in range(600):
    try:
        s3.download_file("async", key, dst)
        break
    except botocore.exceptions.ClientError:
        time.sleep(0.1)
print(etag)
`
	pythons := withBoto3()
	for _, python := range pythons {
		out, err := exec.Command(python, "-c", py, s.URL, in, filepath.Join(dir, "out")).CombinedOutput()
		if err != nil {
			t.Fatalf("boto3 (%s): %v\n%s", python, err, out)
		}
		res, err := os.ReadFile(filepath.Join(dir, "out"))
		if err != nil || len(res) == 0 {
			t.Fatalf("boto3 (%s) downloaded no output: %v", python, err)
		}
		t.Logf("boto3 (%s): upload_file ETag %s; the output (%d bytes) downloaded", python, strings.TrimSpace(string(out)), len(res))
		break
	}
	if len(pythons) == 0 {
		t.Log("no boto3 here; the Go SDK legs ran")
	}
}

// withBoto3 lists the Python interpreters here that have boto3, newest
// first (pyenv's 1.43, Debian's 1.26).
func withBoto3() []string {
	var out []string
	for _, python := range []string{os.ExpandEnv("$HOME/.pyenv/shims/python3"), "/usr/bin/python3"} {
		if exec.Command(python, "-c", "import boto3").Run() == nil {
			out = append(out, python)
		}
	}
	return out
}

// boto3Where returns the first Python here whose boto3 passes check (a
// Python statement that raises without the feature a test needs), or
// skips the test, saying what it needs.
func boto3Where(t testing.TB, check, needs string) string {
	t.Helper()
	for _, python := range withBoto3() {
		if exec.Command(python, "-c", "import boto3\n"+check).Run() == nil {
			return python
		}
	}
	t.Skip("no boto3 with " + needs)
	return ""
}

// boto3Clients opens a boto3 script: sys.argv[1] is the server's URL, and
// kw the arguments every client of it takes.
const boto3Clients = `
import boto3, json, sys, time
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
`

// runBoto3 runs script (after boto3Clients) against url and decodes the
// JSON it prints into v.
func runBoto3(t testing.TB, python, script, url string, v any) []byte {
	t.Helper()
	out, err := exec.Command(python, "-c", boto3Clients+script, url).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", python, err, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}
