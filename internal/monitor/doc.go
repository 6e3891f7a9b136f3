// Package monitor owns CloudWatch alarms: their configuration and state
// (persisted), their history (two weeks), the loop that evaluates them and
// the delivery of their actions.
//
// The loop evaluates alarms with a period under a minute every 10 seconds
// and the others once a minute, over the last complete periods, with the
// pure alarm.Evaluate. A transition is recorded in the history and fires the
// actions of the new state. Application Auto Scaling actions are delivered
// again every minute while the alarm stays in that state, as CloudWatch does
// for Auto Scaling; every action that cannot be delivered is recorded in the
// history as failed, never dropped silently.
package monitor
