// Package requestlog writes one CSV line per invocation (ebb server
// --request-log): when it arrived, what served it, how it ended and how
// long the model took. The file is a trace ebb simulate replays as it is
// (--time-column TIMESTAMP, --service-time-column ModelLatencyMs).
package requestlog
