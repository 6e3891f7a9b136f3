// Package e2e holds ebb's end-to-end tests: they build the ebb binary, run
// real servers as subprocesses on loopback, and drive them only with
// unmodified AWS SDK for Go v2 clients (and raw HTTP where a test must send
// what the SDK refuses to). Tests that take more than a few seconds skip
// under -short.
package e2e
