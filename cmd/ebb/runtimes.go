package main

// The runtimes `ebb server --runtime` offers: each package registers itself
// (runtime.Register); adding one is one line here.
import (
	_ "github.com/ebbscale/ebb/internal/runtime/docker"
	_ "github.com/ebbscale/ebb/internal/runtime/kubernetes"
	_ "github.com/ebbscale/ebb/internal/runtime/process"
)
