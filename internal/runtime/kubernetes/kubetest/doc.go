// Package kubetest starts a real Kubernetes control plane for tests: etcd,
// kube-apiserver, kube-controller-manager (Deployments, ReplicaSets,
// EndpointSlices, garbage collection), kube-scheduler and kwok for nodes,
// all built from tools/go.mod by scripts/k8s-tools. Nothing of the API
// server is faked.
//
// kwok's nodes run no containers, so the harness stands in for the kubelet's
// container runtime: each pod that kwok reports running, with an address in
// kwok's pod CIDR (made local to the machine), has its container command run as a
// local process bound to that address, its model-data init container run
// in-process (modeldata.Fetch), and is deleted when its process exits, as a
// node would lose it. So a request really goes ebb → EndpointSlice address →
// process. The harness serves, from one TLS address every node reports,
// what kubelets and add-ons would: the pod log API and, for tests that ask
// (ServeMetrics), metrics-server's metrics.k8s.io from the processes' real
// CPU and memory. Containers get their environment as a kubelet gives it
// (Secrets in envFrom, the pod IP, $(VAR) in arguments), and paths in
// their arguments and SM_MODEL_DIR under a volume's mount are the
// volume's directory on this machine.
package kubetest
