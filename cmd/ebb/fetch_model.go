package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/ebbscale/ebb/internal/modeldata"
)

// runFetchModel is the init container of a Kubernetes instance: it puts a
// model's artifacts where the model server expects them (/opt/ml/model).
func runFetchModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var url, dir string
	o := modeldata.Options{S3Endpoint: os.Getenv("EBB_S3_ENDPOINT"), Region: os.Getenv("AWS_REGION")}
	fs := newFlags("fetch-model", "Fetch a model's artifacts (ModelDataUrl: s3://, http:// or https://; a .tar.gz is extracted)\ninto a directory, as the init container of an instance on Kubernetes does.", stderr)
	fs.StringVar(&url, "url", "", "the ModelDataUrl")
	fs.StringVar(&dir, "dir", "/opt/ml/model", "where the model server reads its artifacts")
	fs.StringVar(&o.S3Endpoint, "s3-endpoint", o.S3Endpoint, "S3 API for s3:// URLs (default: $EBB_S3_ENDPOINT); signed with $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY when set")
	fs.Int64Var(&o.MaxBytes, "max-model-bytes", modeldata.DefaultMaxBytes, "refuse model data larger than this")
	if err := parse(fs, args); err != nil {
		return err
	}
	if url == "" {
		return usageError{errors.New("fetch-model: --url is required")}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("fetching model data", "url", url, "dir", dir)
	if err := modeldata.Fetch(ctx, url, dir, o); err != nil {
		return err
	}
	log.Info("model data ready", "dir", dir)
	return nil
}
