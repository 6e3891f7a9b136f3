package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Remote reads and writes objects in an external S3-compatible store
// (--s3-endpoint: MinIO, AWS S3, another ebb) with the AWS SDK's S3 client,
// path-style, with the keys of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
type Remote struct {
	client *s3.Client
}

// NewRemote returns a client of the store at endpoint.
func NewRemote(endpoint, region string) *Remote {
	cfg := aws.Config{Region: region}
	if id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); id != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))
	} else {
		cfg.Credentials = aws.AnonymousCredentials{}
	}
	return &Remote{client: s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})}
}

// ReadAll reads an object up to max bytes.
func (r *Remote) ReadAll(bucket, key string, max int64) ([]byte, error) {
	out, err := r.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if int64(len(b)) > max {
		return nil, fmt.Errorf("object larger than %d bytes", max)
	}
	return b, err
}

// PutBytes writes an object.
func (r *Remote) PutBytes(bucket, key string, b []byte) error {
	_, err := r.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(b)})
	return err
}

// Open streams an object; the caller closes it.
func (r *Remote) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if re := (*awshttp.ResponseError)(nil); errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %w", fs.ErrNotExist, err) // NoSuchKey, NoSuchBucket
	}
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}
