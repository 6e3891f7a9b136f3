package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// TestServerRefusesFlags: a runtime's flag with another runtime, and a bad
// value, are refused before anything starts, naming the flag and saying
// which runtimes it applies to.
func TestServerRefusesFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--runtime", "kubernetes", "--model-data-root", "/srv/models"}, "--model-data-root=/srv/models: applies only with --runtime docker or process"},
		{[]string{"--runtime", "kubernetes", "--max-model-bytes", "100"}, "--max-model-bytes=100: applies only with --runtime docker or process"},
		{[]string{"--runtime", "docker", "--instance-user", "nobody"}, "--instance-user=nobody: applies only with --runtime process"},
		{[]string{"--docker-host", "unix:///run/docker.sock"}, "--docker-host=unix:///run/docker.sock: applies only with --runtime docker"},
		{[]string{"--runtime", "docker", "--dcgm-url", "http://127.0.0.1:9400/metrics"}, "applies only with --runtime kubernetes"},
		{[]string{"--max-model-bytes", "0"}, "--max-model-bytes=0: must be positive"},
		{[]string{"--runtime", "nope"}, "--runtime=nope: want one of docker, kubernetes, process"},
	} {
		var stderr bytes.Buffer
		err := runServer(context.Background(), append(c.args, "--data", t.TempDir()), io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want an error saying %q", c.args, err, c.want)
		}
	}
}
