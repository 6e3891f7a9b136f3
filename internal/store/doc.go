// Package store persists ebb's control-plane state.
//
// State is kept as JSON documents keyed by kind and name (models, endpoint
// configs, endpoints) plus tags keyed by ARN. Names are unique without regard
// to case, as SageMaker's are. Every write is committed (SQLite WAL,
// synchronous=FULL) before the API answers, so nothing accepted is lost in a
// crash. The schema is migrated forward on Open from the SQL files embedded
// in migrations/.
package store
