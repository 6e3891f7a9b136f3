// Package kubernetes runs endpoint instances as pods of Deployments in a
// Kubernetes cluster (ebb server --runtime kubernetes), through client-go.
//
// Each production variant of each endpoint configuration (hosting's
// deployment) is one Deployment with a headless Service beside it; a
// per-endpoint ConfigMap owns them all, so deleting it (Release) leaves
// nothing behind. The runtime contract is per instance, so the runtime maps
// instances onto pods, as a client-go controller: the informers' handlers
// queue the Deployment a pod, EndpointSlice or Deployment belongs to, and
// workers reconcile it (reconcile.go), retrying failed writes with the
// queue's rate limit.
//
//   - The Deployment has a replica per instance not being stopped; Start
//     adds one, and the instance binds to the oldest pod of the Deployment
//     that no live instance holds. The pod is annotated with the
//     instance's ID (which is how a restarted ebb adopts it), a write made
//     again until the pod has it.
//   - The instance is ready when the variant's EndpointSlice lists its pod as
//     ready and ebb's own GET /ping answers 200; its address is the slice's.
//   - Stop marks the pod with the lowest controller.kubernetes.io/pod-deletion-cost
//     and lowers replicas, so the ReplicaSet removes that pod; where it
//     prefers another (one not yet running or ready), ebb deletes the
//     marked pod itself once the Deployment has settled, and the instance
//     that lost a pod it never served on waits for the replacement.
//   - An instance ends on its own when its pod is deleted or fails after
//     it served, its container restarts, it fails ebb's health checks, or
//     it is not ready within the start limit (its reason from the pod:
//     Unschedulable, ImagePullBackOff, CrashLoopBackOff...). Its pod is then
//     deleted; the ReplicaSet creates a replacement, which hosting's
//     replacement instance binds to.
//
// The container contract is SageMaker's: the image is run with the argument
// serve, on port 8080, with the model's Environment; ModelDataUrl is fetched
// into /opt/ml/model by an init container running `ebb fetch-model`. A
// multi-model container's pod has a puller beside it (`ebb fetch-model
// --serve`) that fetches each artifact on its first use into
// /opt/ml/models, which the container reads (Artifacts).
//
// Model pods meet the Pod Security Standard --pod-security names
// (restricted by default) and mount no service-account token; what a
// model container writes is copied from the pod log API into the instance's
// CloudWatch Logs stream (logs.go). Inference-component copies are pods of
// a Deployment per component generation that request the copy's
// requirements (Runs); hosting places them on the endpoint's instances,
// which here are shares of the cluster.
package kubernetes
