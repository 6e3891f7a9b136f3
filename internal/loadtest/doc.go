// Package loadtest finds how much load one instance sustains within a
// latency SLO, with open-loop load, and turns it into the numbers of a
// scaling policy: the TargetValue of InvocationsPerInstance by AWS's
// formula and from the measured knee of the latency curve, a concurrency
// target, a CPU target and cooldowns (ebb loadtest).
package loadtest
