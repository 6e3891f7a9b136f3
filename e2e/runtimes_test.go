package e2e

import (
	"fmt"
	"testing"
)

// runtimeServer is a server on one runtime, with what a behaviour test
// run on every runtime from one table asks of it.
type runtimeServer struct {
	*server
	// running lists the identities of what runs its instances (process
	// and PID, container and ID, pod and UID): the same ones after a
	// restart mean the instances were adopted, not started anew.
	running func() []string
	// restart kills the server with -9 and runs another, with the same
	// flags, on the same instances.
	restart func() *server
	// kube is the Kubernetes runtime's, nil on the others.
	kube *kubeServer
}

// everyRuntime starts a server on dir with extra flags, on each runtime.
var everyRuntime = map[string]func(t testing.TB, dir string, extra ...string) *runtimeServer{
	"process": func(t testing.TB, dir string, extra ...string) *runtimeServer {
		s := startServer(t, dir, extra...)
		return &runtimeServer{server: s, running: func() []string {
			var out []string
			for id, pid := range s.instances() {
				out = append(out, fmt.Sprintf("%s/%d", id, pid))
			}
			return out
		}, restart: func() *server {
			s.Crash()
			return startServer(t, dir, extra...)
		}}
	},
	"docker": func(t testing.TB, dir string, extra ...string) *runtimeServer {
		s, d := startDockerServer(t, dir, extra...)
		return &runtimeServer{server: s, running: func() []string {
			var out []string
			for name, c := range containers(t, d) {
				out = append(out, name+"/"+c.ID)
			}
			return out
		}, restart: func() *server {
			s.Crash()
			s2, _ := startDockerServer(t, dir, extra...)
			return s2
		}}
	},
	"kubernetes": func(t testing.TB, dir string, extra ...string) *runtimeServer {
		k := startKubeServer(t, dir, extra...)
		return &runtimeServer{server: k.server, kube: k, running: func() []string {
			var out []string
			for name, p := range k.pods(t) {
				out = append(out, name+"/"+string(p.UID))
			}
			return out
		}, restart: func() *server {
			k.Crash()
			return restartKubeServer(t, dir, k.cluster, k.ns, extra...)
		}}
	},
}
