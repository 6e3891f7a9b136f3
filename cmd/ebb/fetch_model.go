package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ebbscale/ebb/internal/modeldata"
)

// runFetchModel puts a model's artifacts where the model server expects
// them: once, as the init container of a Kubernetes instance
// (/opt/ml/model), or, with --serve, on request beside a multi-model
// container, whose pod shares /opt/ml/models with it.
func runFetchModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var url, dir, serve, prefix string
	o := modeldata.Options{S3Endpoint: os.Getenv("EBB_S3_ENDPOINT"), Region: os.Getenv("AWS_REGION")}
	fs := newFlags("fetch-model", "Fetch a model's artifacts (ModelDataUrl: s3://, http:// or https://; a .tar.gz is extracted)\n"+
		"into a directory, as the init container of an instance on Kubernetes does; with --serve, fetch\n"+
		"a multi-model endpoint's artifacts on request, as the model puller beside its container does.", stderr)
	fs.StringVar(&url, "url", "", "the ModelDataUrl (without --serve)")
	fs.StringVar(&dir, "dir", "", "where the model server reads its artifacts (default /opt/ml/model; with --serve, /opt/ml/models)")
	fs.StringVar(&serve, "serve", "", "serve POST /artifacts on this host:port instead of fetching --url: each artifact is fetched once into a directory of its own under --dir")
	fs.StringVar(&prefix, "prefix", "", "with --serve: the multi-model ModelDataUrl; only artifacts under it are fetched")
	fs.StringVar(&o.S3Endpoint, "s3-endpoint", o.S3Endpoint, "S3 API for s3:// URLs (default: $EBB_S3_ENDPOINT); signed with $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY when set")
	fs.Int64Var(&o.MaxBytes, "max-model-bytes", modeldata.DefaultMaxBytes, "refuse model data larger than this")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if serve != "" {
		if url != "" || prefix == "" {
			return usageError{errors.New("fetch-model: --serve takes --prefix (the multi-model ModelDataUrl), not --url")}
		}
		if dir == "" {
			dir = "/opt/ml/models"
		}
		return servePuller(ctx, log, serve, &modeldata.Puller{Prefix: prefix, Cache: &modeldata.Cache{Dir: dir,
			Fill: func(ctx context.Context, url, dest string) (string, error) {
				log.Info("fetching model data", "url", url)
				return dest, modeldata.Fetch(ctx, url, dest, o)
			}}})
	}
	if url == "" {
		return usageError{errors.New("fetch-model: --url is required (or --serve with --prefix)")}
	}
	if dir == "" {
		dir = "/opt/ml/model"
	}
	log.Info("fetching model data", "url", url, "dir", dir)
	if err := modeldata.Fetch(ctx, url, dir, o); err != nil {
		return err
	}
	log.Info("model data ready", "dir", dir)
	return nil
}

// servePuller serves p on addr until ctx ends.
func servePuller(ctx context.Context, log *slog.Logger, addr string, p *modeldata.Puller) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--serve: %w", err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("model puller serving", "addr", ln.Addr().String(), "prefix", p.Prefix, "dir", p.Cache.Dir)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
