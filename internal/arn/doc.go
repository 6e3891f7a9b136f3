// Package arn builds and reads Amazon Resource Names in the partition of
// the configured region (aws, aws-cn, aws-us-gov, ...), so that every ARN
// ebb returns matches what AWS returns in that region.
package arn
