// Package store is the contract of ebb's persistence: the types, the
// sentinel errors and small capability interfaces (documents, tags, alarm
// history, scaling activities, the async queue, metric buckets) that hosting,
// the autoscaler, the monitor, asyncinv and metrics embed. Backends live in
// subpackages (sqlite, the embedded default; memory, for tests) and pass
// one conformance suite, storetest.
package store
