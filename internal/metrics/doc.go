// Package metrics is ebb's CloudWatch time-series store.
//
// A series is a namespace, a metric name and a set of dimensions. Every
// datapoint is aggregated on arrival into buckets of five resolutions, each
// holding a statistic set (SampleCount, Sum, Minimum, Maximum) and, from 10
// seconds up, a mergeable DDSketch for percentiles (1% relative accuracy),
// each kept as long as CloudWatch keeps data of that resolution:
//
//	resolution   retention   serves periods                   percentiles
//	1 s          3 hours     1, 5 s                           no
//	10 s         3 hours     10, 20, 30 s                     yes
//	60 s         15 days     multiples of 60 s                yes
//	300 s        63 days     multiples of 300 s (older data)  yes
//	3600 s       455 days    multiples of 3600 s (older)      yes
//
// A sketch per second of a busy series would cost megabytes, so
// percentiles of 1- and 5-second periods are not kept (a documented
// difference from CloudWatch).
//
// A unit belongs to each datapoint, as in CloudWatch: a series keeps its
// points apart by the unit they came with ("None" for none), and a query
// that names a unit reads only those. Each resolution's buckets are a
// time-ordered timeline, so a query reads neighbouring buckets from
// contiguous memory, and a bucket whose values are all equal keeps that value
// instead of a sketch until a different one arrives.
//
// Because the coarse resolutions are written at ingestion rather than
// computed later, a query never depends on a rollup job having run, and a
// series' memory is bounded by its retention windows, not by how long ebb
// has been running. Buckets are persisted (Persister) when they change, so a
// restart keeps history.
//
// The store never reads a clock: callers pass timestamps and `now`.
package metrics
