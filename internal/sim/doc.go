// Package sim replays a request trace through the real autoscaler on a
// virtual clock (ebb simulate): the real emitter publishes the metrics into
// the real metric store, the real CloudWatch alarms evaluate them, the real
// Application Auto Scaling decides (policies put through its API's
// operations, so they are validated exactly as live), and the endpoint is
// a queueing model of
// instances with a service time, a concurrency and a startup delay: a fluid
// queue for a fixed (or spread) service time, and slots, an M/G/k queue,
// for a trace whose requests each give their own.
package sim
