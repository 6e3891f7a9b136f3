// Package router is the invocation data plane: it picks a production variant
// by weight (or the one a request targets), then the healthy instance of that
// variant with the fewest requests in flight, and proxies the request to it.
//
// The routing table is copy-on-write behind an atomic pointer, so the hot
// path takes no lock. Hosting publishes a new table whenever instances become
// healthy or are withdrawn; a withdrawn instance is drained (Drain waits for
// its last request) before hosting stops it, so scale-in and blue/green
// updates drop no request.
package router
