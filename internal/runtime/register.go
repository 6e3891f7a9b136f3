package runtime

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
)

// Registration is how a runtime joins ebb, as Caddy's modules do: its
// package registers it from init, and the server's one import line of that
// package makes it a value of --runtime. Nothing outside the runtime's
// folder names it.
type Registration struct {
	// Name is the value of --runtime.
	Name string
	// Summary says where instances run, for --help ("local processes").
	Summary string
	// Shared says the instances run where every machine reaches them (pods
	// in a cluster): several ebb replicas may drive them, one after another,
	// and a server that stops leaves them running (the runtime is then a
	// Detacher and an Adopter). Otherwise they are this machine's, and
	// only one server at a time may use a store.
	Shared bool
	// Logs says ebb collects what instances write into CloudWatch Logs:
	// Env.Logs is then set.
	Logs bool
	// LocalModelData says a ModelDataUrl may name this machine's files (a
	// path or a file:// URL): --model-data-root and --max-model-bytes apply,
	// as Env.ModelDataRoots and Env.MaxModelBytes.
	LocalModelData bool
	// Config returns a configuration holding the runtime's defaults.
	Config func() Config
}

// Config is a runtime's own configuration, filled by its own flags.
type Config interface {
	// Flags registers the runtime's flags on fs (their help says which
	// runtime they belong to; the server refuses them with another).
	Flags(fs *flag.FlagSet)
	// Validate reports every problem with the flags, each naming its flag.
	Validate() error
	// New builds the runtime.
	New(ctx context.Context, env Env) (Runtime, error)
}

// Env is what the server gives every runtime it builds.
type Env struct {
	// Data is the server's data directory.
	Data string
	// StartLimit is how long an instance may take to pass its first health
	// check (Health).
	StartLimit time.Duration
	// Region is the server's AWS region.
	Region string
	// S3URL is ebb's own S3 API (or --s3-endpoint) as instances on other
	// machines reach it; empty when none was given.
	S3URL string
	// Logs receives what instances write, where the registration has Logs.
	Logs LogFollower
	// ModelDataRoots are the absolute directories a local ModelDataUrl must
	// be under, and MaxModelBytes bounds what one model may take, where the
	// registration has LocalModelData.
	ModelDataRoots []string
	MaxModelBytes  int64
	// Fence, when set, is asked before every write a runtime makes outside
	// this machine; an error refuses it (a replica that lost the leadership).
	Fence  func(context.Context) error
	Logger *slog.Logger
}

// LogFollower follows a file an instance writes into its CloudWatch Logs
// stream until done is closed (logs.Store).
type LogFollower interface {
	Follow(src, group, stream string, done <-chan struct{}) error
}

var registry struct {
	sync.Mutex
	byName map[string]Registration
}

// Register adds a runtime; a second one of the same name panics (two
// packages claiming one --runtime value is a programming error).
func Register(r Registration) {
	registry.Lock()
	defer registry.Unlock()
	if r.Name == "" || r.Config == nil {
		panic("runtime: a registration needs a Name and a Config")
	}
	if _, dup := registry.byName[r.Name]; dup {
		panic(fmt.Sprintf("runtime: %q registered twice", r.Name))
	}
	if registry.byName == nil {
		registry.byName = map[string]Registration{}
	}
	registry.byName[r.Name] = r
}

// Registered returns the registered runtimes, by name.
func Registered() []Registration {
	registry.Lock()
	defer registry.Unlock()
	out := make([]Registration, 0, len(registry.byName))
	for _, r := range registry.byName {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the runtime registered as name.
func Lookup(name string) (Registration, bool) {
	registry.Lock()
	defer registry.Unlock()
	r, ok := registry.byName[name]
	return r, ok
}

// Names lists the registered runtimes for which keep is true (all, with
// keep nil).
func Names(keep func(Registration) bool) []string {
	var out []string
	for _, r := range Registered() {
		if keep == nil || keep(r) {
			out = append(out, r.Name)
		}
	}
	return slices.Clip(out)
}
