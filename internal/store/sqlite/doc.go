// Package sqlite is ebb's embedded store: the store contract on one SQLite
// file (modernc.org/sqlite, pure Go), documents keyed by kind and name
// without regard to case, tags, alarm history, scaling activities, the async
// queue and metric buckets.
package sqlite
