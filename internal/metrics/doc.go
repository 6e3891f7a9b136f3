// Package metrics is ebb's CloudWatch time-series store.
//
// A series is a namespace, a metric name and a set of dimensions. Every
// datapoint is aggregated on arrival into buckets of four resolutions, each
// holding a statistic set (SampleCount, Sum, Minimum, Maximum) and a
// mergeable DDSketch for percentiles, and each kept as long as CloudWatch
// keeps it:
//
//	resolution   retention   serves periods
//	1 s          3 hours     1, 5, 10, 20, 30 s (and multiples of 60)
//	60 s         15 days     multiples of 60 s
//	300 s        63 days     multiples of 300 s
//	3600 s       455 days    multiples of 3600 s
//
// Because the coarse resolutions are written at ingestion rather than
// computed later, a query never depends on a rollup job having run, and a
// series' memory is bounded by its retention windows, not by how long ebb
// has been running. Buckets are persisted (Persister) when they change, so a
// restart keeps history.
//
// The store never reads a clock: callers pass timestamps and `now`.
package metrics
