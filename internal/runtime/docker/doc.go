// Package docker runs each instance as a container of the model's own image
// in a Docker daemon on this machine (ebb server --runtime docker), through
// Docker's Go client, as SageMaker's local mode does.
//
// The container contract is SageMaker's: the image runs with the argument
// serve and listens on port 8080; Environment is its environment; the model
// data (a local path, file://, s3:// or http(s):// URL, a .tar.gz
// extracted) is prepared on the host by internal/modeldata and mounted
// read-only at /opt/ml/model. Port 8080 is published on 127.0.0.1 at a port
// Docker chooses, which ebb's router reaches on a laptop and a server alike,
// without a network of ebb's own. InstanceType becomes CPU and memory
// limits (and, for GPU types, NVIDIA device requests, allocated exclusively
// as on the process runtime). The health contract is runtime.Health's.
//
// An image not on the daemon is pulled, with its progress in the log and
// the registry's error as the instance's launch failure (FailureReason).
// Containers carry ebb's labels (the server, by its data directory, the
// instance, endpoint, variant and deployment), so a server restarted after
// kill -9 adopts its running containers and removes the others. What a
// container writes follows it into the instance's CloudWatch Logs stream.
package docker
