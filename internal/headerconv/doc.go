// Package headerconv turns headers parsed by fasthttp into net/http's
// http.Header in a handful of allocations, whatever their number: the names
// and values share one string and the one-value slices one array. Both ends
// of the invocation path use it (the request ebb receives, the answer it
// reads from an instance), where a header-by-header copy was a fifth of the
// allocations of a request.
package headerconv
