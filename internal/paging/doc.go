// Package paging pages lists with NextToken, as AWS's List and Describe
// operations do. A token is opaque to clients; it names where the next
// page starts (an item's key, an offset, or both) and carries a CRC-32 of
// that, so that a token ebb did not hand out is refused (each API answers
// its own InvalidNextToken error) instead of answering a page that starts
// somewhere arbitrary.
package paging
