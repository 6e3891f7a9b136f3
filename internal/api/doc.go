// Package api is ebb's AWS surface: one http.Handler that tells the
// services apart by X-Amz-Target and path (DESIGN.md's table), verifies
// SigV4 signatures when credentials are configured, stamps every answer with
// a request id and logs it.
//
// The wire codecs live in awsjson (awsJson1_1 and the JSON bodies of
// restJson1), request validation in awsmodel, the one error table in awserr,
// and the operations of each service in its own subpackage.
package api
