// Package postgres is the PostgreSQL store (ebb server --store
// postgres://...), through pgx: the same contract as the embedded SQLite
// store, checked by the same storetest suite, for state that outlives one
// machine. Its schema is migrated forward on Open from the SQL files in
// migrations/, under an advisory lock so that replicas starting together
// migrate once. Errors that mean the database cannot be reached are
// store.Unavailable, which the APIs answer with ServiceUnavailable (503,
// retried by AWS SDKs); pgx's pool reconnects by itself.
package postgres
