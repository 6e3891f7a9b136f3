// Package runtime defines how ebb runs model-server instances: the Runtime
// interface every backend implements (process, kubernetes), the instance
// types, and the container contract they share.
//
// A Runtime starts instances; an Instance reports when it is ready (its
// /ping answers 200), when it has ended (exited, crashed, failed its health
// checks or its start limit), and its resource usage. Hosting decides how many
// instances run; the runtime only runs them. Every implementation must pass
// the suite in runtimetest.
package runtime
