package arn

import (
	"fmt"
	"strings"
)

// Partition is the partition of a region: aws-cn for cn-*, aws-us-gov for
// us-gov-*, aws-iso for us-iso-*, aws-iso-b for us-isob-*, aws-eusc for
// eusc-*, otherwise aws.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}

// New returns arn:PARTITION:service:region:account:resource.
func New(service, region, account, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", Partition(region), service, region, account, resource)
}

// Prefix is New without the resource: arn:PARTITION:service:region:account:.
func Prefix(service, region, account string) string { return New(service, region, account, "") }

// Service returns an ARN's service, "" for what is not an ARN.
func Service(a string) string {
	rest, ok := strings.CutPrefix(a, "arn:")
	partition, rest, ok2 := strings.Cut(rest, ":")
	service, _, ok3 := strings.Cut(rest, ":")
	if !ok || !ok2 || !ok3 || !strings.HasPrefix(partition, "aws") {
		return ""
	}
	return service
}
