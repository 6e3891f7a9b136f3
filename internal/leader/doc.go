// Package leader makes one of several ebb replicas the leader, with a
// Kubernetes Lease and client-go's leaderelection (no home-made consensus),
// and forwards the API calls a follower receives to the leader.
//
// The leader runs every loop that owns time or objects (hosting, alarms,
// the autoscaler, async dispatch, retention); a follower answers the APIs by
// forwarding, after admitting the request and verifying its signature
// itself. A replica that loses the lease stops: it exits, as
// kube-controller-manager does, and its pod restarts as a follower. Writes a
// deposed leader makes after it lost the lease (frozen past it, say) are
// refused by the store's fencing epoch (store/postgres Fence).
package leader
