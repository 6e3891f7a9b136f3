// Package runtimetest is the conformance suite every runtime.Runtime must
// pass, and the small model server it runs (Serve), which does on request
// what the suite needs to observe: crash, turn unhealthy, burn CPU, report
// its environment and model files.
package runtimetest
