// Package tagging holds the rules AWS's tagging operations share (SageMaker's
// AddTags, Application Auto Scaling's and CloudWatch's TagResource): a tag
// key or value is added or overwritten by key, a resource holds at most 50
// tags, and keys starting with aws: (in any case) are AWS's own. Each API
// checks that the resource exists and words a refusal in its own error.
package tagging
