// Package awsmodel validates requests against the official AWS service
// models, the way AWS's own front ends do, so that ebb answers bad input with
// the same ValidationException text a real service gives:
//
//	1 validation error detected: Value null at 'endpointName' failed to satisfy constraint: Member must not be null
//
// The models are trimmed copies of botocore's service-2.json files (see gen.go),
// embedded in the binary. Shapes, required members, lengths, ranges, patterns
// and enums come from the model; nothing is restated by hand.
package awsmodel
