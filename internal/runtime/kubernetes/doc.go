// Package kubernetes runs endpoint instances as pods of Deployments in a
// Kubernetes cluster (ebb server --runtime kubernetes), through client-go.
//
// Each production variant of each endpoint configuration (hosting's
// deployment) is one Deployment with a headless Service beside it; a
// per-endpoint ConfigMap owns them all, so deleting it (Release) leaves
// nothing behind. The runtime contract is per instance, so the runtime maps
// instances onto pods:
//
//   - Start raises the Deployment's replicas by one through the scale
//     subresource (retried on 409 conflicts) and binds the instance to the
//     next pod of the Deployment that no live instance holds, annotating the
//     pod with the instance's ID (which is how a restarted ebb adopts it).
//   - The instance is ready when the variant's EndpointSlice lists its pod as
//     ready and ebb's own GET /ping answers 200; its address is the slice's.
//   - Stop marks the pod with the lowest controller.kubernetes.io/pod-deletion-cost
//     and lowers replicas, so the ReplicaSet removes that pod.
//   - An instance ends on its own when its pod is deleted or fails, its
//     container restarts, it fails ebb's health checks, or it is not ready
//     within the start limit (its reason from the pod: Unschedulable,
//     ImagePullBackOff, CrashLoopBackOff...). Its pod is then deleted; the
//     ReplicaSet creates a replacement, which hosting's replacement instance
//     binds to.
//
// The container contract is SageMaker's: the image is run with the argument
// serve, on port 8080, with the model's Environment; ModelDataUrl is fetched
// into /opt/ml/model by an init container running `ebb fetch-model`.
package kubernetes
