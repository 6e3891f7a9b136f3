// Package runtime defines how ebb runs model-server instances: the Runtime
// interface every backend implements (process, docker, kubernetes), the instance
// types, and the container contract they share.
//
// A Runtime starts instances; an Instance reports when it is ready (its
// /ping answers 200), when it has ended (exited, crashed, failed its health
// checks or its start limit), and its resource usage. Hosting decides how many
// instances run and which one goes; the runtime only runs them.
//
// The contract is per instance, not a count: hosting starts and stops the
// instances it chose, and a runtime that keeps a count underneath (the
// Kubernetes runtime's Deployment per variant) adds them up and removes the
// very pod of the instance stopped. A count alone would leave the choice
// of the instance to go, the copies of inference components on their
// hosts, and the containers of a Docker runtime (one per instance) to
// each backend; per instance, one rule in hosting serves them all.
//
// What a runtime can do beyond starting instances it declares with small
// optional interfaces (Adopter, Detacher, Releaser, Featured,
// ArtifactPreparer, ImageInspector, Noticer), and it joins the server by
// registering itself (Register, from its package's init: its name for
// --runtime, its flags, whether its instances are shared by several
// replicas, whether ebb keeps their logs and whether a model's data may be
// a local path): a new runtime is a folder and one import line in
// cmd/ebb/runtimes.go. A runtime that reads its instances' output from an
// API keeps it with ContainerLog, which resumes after a restart. The SageMaker health contract is written once
// (Health). Every implementation must pass the suite in runtimetest,
// adoption after a restart included.
package runtime
