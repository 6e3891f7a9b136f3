// Package replica shares, through the store, what follower replicas need
// from the leader and the leader from them, so that every replica serves
// InvokeEndpoint straight to the instances:
//
//   - the routing table: the leader's hosting publishes each endpoint's
//     variants, weights and ready instances (Publisher), and followers load
//     them into their own router (Follow). The table is hosting's, not the
//     runtime's raw view (EndpointSlices), because hosting alone knows which
//     deployment of a blue/green update is current, the variants' weights
//     and which pods passed ebb's own ping.
//   - per-request metrics: a follower's emitter sends what its router
//     measured (Outbox) and the leader takes it into its metric store
//     (Inbox), so InvocationsPerInstance counts the traffic of every
//     replica. The metric store stays one writer's (the leader's), whose Put
//     merges datapoints into buckets (sum, min, max, count, sketch).
//
// A follower learns a change of the table within its poll interval
// (DefaultFollowEvery). A request a follower cannot route (an endpoint or
// capacity it does not know of yet, a cold start) is forwarded to the
// leader, which can.
package replica
