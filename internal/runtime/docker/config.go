package docker

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/docker/docker/client"

	"github.com/ebbscale/ebb/internal/gpu"
	"github.com/ebbscale/ebb/internal/modeldata"
	"github.com/ebbscale/ebb/internal/runtime"
)

func init() {
	runtime.Register(runtime.Registration{
		Name:    "docker",
		Summary: "the model's container image in Docker on this machine",
		Logs:    true,
		// Local paths, under the model data roots, are mounted.
		LocalModelData: true,
		Config:         func() runtime.Config { return &Config{} },
	})
}

// Config is the Docker runtime's part of `ebb server`'s flags.
type Config struct {
	DockerHost string
}

// Flags registers --docker-host.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DockerHost, "docker-host", c.DockerHost, "with --runtime docker: the Docker daemon (default: $DOCKER_HOST, else unix:///var/run/docker.sock)")
}

// Validate checks the flags.
func (c *Config) Validate() error { return nil }

// New connects to the daemon and builds the runtime.
func (c *Config) New(ctx context.Context, env runtime.Env) (runtime.Runtime, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if c.DockerHost != "" {
		opts = append(opts, client.WithHost(c.DockerHost))
	}
	cl, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("--runtime docker: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cl.Ping(pctx); err != nil {
		return nil, fmt.Errorf("--runtime docker: the Docker daemon at %s does not answer (%v); start it, or name another with --docker-host", cl.DaemonHost(), err)
	}
	if err := os.MkdirAll(env.Data, 0o755); err != nil {
		return nil, err
	}
	src, err := gpu.Open()
	if err != nil {
		env.Logger.Info("no GPUs: GPU instance types run without one", "why", err)
	}
	env.Logger.Info("instances run as Docker containers", "docker_host", cl.DaemonHost(), "api_version", cl.ClientVersion())
	return New(Options{Client: cl, Dir: env.Data, Server: ServerLabel(env.Data), StartLimit: env.StartLimit,
		ModelData: modeldata.Options{S3Endpoint: env.S3URL, Region: env.Region, MaxBytes: env.MaxModelBytes}, GPUs: gpu.NewAllocator(src),
		ModelDataRoots: env.ModelDataRoots, Logs: env.Logs, Logger: env.Logger}), nil
}
