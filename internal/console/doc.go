// Package console is ebb's web console: the endpoints, and for each one the
// story of its scaling told on one time axis (instances desired and in
// service, the policy's metric against its target and alarm thresholds,
// latency, utilization, the async backlog, every scaling activity and
// not-scaled decision with its cause, every alarm state change), its
// policies, scheduled actions, alarms, instance logs, and `ebb simulate`
// reports.
//
// Pages are rendered on the server (html/template) and embedded in the
// binary with their assets: a small script, a style sheet and uPlot, the
// chart library, vendored from the npm registry with its license. No Node
// toolchain builds ebb. Live pages get their data by Server-Sent Events,
// read from the same services and metric store as the AWS APIs
// (GetMetricData, DescribeScalingActivities, DescribeAlarmHistory). The
// console only reads: it changes nothing.
//
// Access: without credentials the console is served as the APIs are, to
// loopback (or --allowed-host) addresses only; with --credentials it asks
// for an access key and its secret and keeps a signed, HttpOnly session
// cookie.
package console
