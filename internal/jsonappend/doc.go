// Package jsonappend appends JSON values to a byte slice exactly as
// encoding/json writes them, for the few documents the control plane
// encodes thousands of times a round (alarm states and their reasons),
// where reflection was a fifth of the round. Anything else uses
// encoding/json.
package jsonappend
