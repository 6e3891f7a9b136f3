package runtimetest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// EnvNeverReady makes Serve answer /ping with 503 forever.
const EnvNeverReady = "EBB_TEST_NEVER_READY"

// EnvDeafOnce names a file: the first Serve that finds it missing creates
// it and never listens (a pod its cluster calls ready that cannot be
// reached); the next ones serve.
const EnvDeafOnce = "EBB_TEST_DEAF_ONCE"

// EnvStartDelay makes Serve wait this long (a Go duration) before it
// listens: a model loading its weights.
const EnvStartDelay = "EBB_TEST_START_DELAY"

// Serve runs the conformance model server on $SAGEMAKER_BIND_TO_PORT until
// the process is killed. Requests to /invocations:
//
//	crash        exit with status 3
//	unhealthy    answer /ping with 500 from now on
//	spin:<ms>    burn CPU for ms milliseconds
//	env:<NAME>   answer the environment variable NAME
//	file:<path>  answer the file at path under $SM_MODEL_DIR
//	anything else is echoed
func Serve() {
	if mark := os.Getenv(EnvDeafOnce); mark != "" {
		if f, err := os.OpenFile(mark, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
			f.Close()
			select {} // never listens; the harness ends the process
		}
	}
	if d, err := time.ParseDuration(os.Getenv(EnvStartDelay)); err == nil {
		time.Sleep(d) // a model server's start, not a test waiting
	}
	var unhealthy atomic.Bool
	unhealthy.Store(os.Getenv(EnvNeverReady) != "")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		if unhealthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /invocations", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		cmd := string(b)
		switch {
		case cmd == "crash":
			os.Exit(3)
		case cmd == "unhealthy":
			unhealthy.Store(true)
		case strings.HasPrefix(cmd, "spin:"):
			// Burn CPU time, not wall time: on a busy machine the two differ.
			ms, _ := strconv.Atoi(strings.TrimPrefix(cmd, "spin:"))
			end := cpuTime() + time.Duration(ms)*time.Millisecond
			x := 0
			for cpuTime() < end {
				for i := 0; i < 100000; i++ {
					x += i * i
				}
			}
			fmt.Fprint(w, x%7)
		case strings.HasPrefix(cmd, "env:"):
			fmt.Fprint(w, os.Getenv(strings.TrimPrefix(cmd, "env:")))
		case strings.HasPrefix(cmd, "file:"):
			data, err := os.ReadFile(filepath.Join(os.Getenv("SM_MODEL_DIR"), strings.TrimPrefix(cmd, "file:")))
			if err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			w.Write(data)
		default:
			w.Write(b)
		}
	})
	port := os.Getenv("SAGEMAKER_BIND_TO_PORT")
	if err := http.ListenAndServe(net.JoinHostPort(bindHost(), port), mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// bindHost is $SAGEMAKER_BIND_TO_HOST (a pod's address), else loopback.
func bindHost() string {
	if h := os.Getenv("SAGEMAKER_BIND_TO_HOST"); h != "" {
		return h
	}
	return "127.0.0.1"
}
