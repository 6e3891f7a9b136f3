// Package leader makes one of several ebb replicas the leader, with a
// Kubernetes Lease and client-go's leaderelection (no home-made consensus),
// and forwards the API calls a follower receives to the leader.
//
// The leader runs every loop that owns time or objects (hosting, alarms,
// the autoscaler, async dispatch, retention); a follower answers the APIs by
// forwarding, after admitting the request and verifying its signature
// itself. While no replica can take a call (an election, a killed leader's
// Lease not yet expired, a new leader still starting) the Forwarder holds
// it and sends it on as soon as one serves, so a failover is a slower
// answer rather than an error; it never forwards to its own replica or
// forwards a forwarded call again. A replica that loses the lease stops: it
// exits, as kube-controller-manager does, and its pod restarts as a
// follower. Writes a deposed leader makes after it lost the lease (frozen
// past it, say) are refused by the store's fencing epoch (store/postgres
// Fence).
package leader
