// Package autoscaler is Application Auto Scaling: scalable targets,
// target-tracking and step policies, scheduled actions, scaling activities,
// and the loop that turns alarm actions and schedules into capacity changes
// on real endpoints.
//
// What can be scaled is a registry (resource.go) keyed by service namespace
// and scalable dimension: each kind parses its resource IDs, names its
// predefined metrics and reads and sets capacity through hosting. SageMaker
// production variants (variant.go) are the first kind; inference components
// (sagemaker:inference-component:DesiredCopyCount, component.go) and
// serverless variants' provisioned concurrency
// (sagemaker:variant:DesiredProvisionedConcurrency, provisioned.go) are
// each one more adapter file and one registry line.
//
// CloudWatch alarms deliver their actions to Deliver, which only queues
// them; Run, the one goroutine that owns decisions, takes them from the
// queue, reads the policy's metric fresh from the metrics store, decides with
// the pure functions of package scaling (cooldowns included), and applies the
// capacity through the same path as UpdateEndpointWeightsAndCapacities. Each
// decision is an activity that moves Pending -> InProgress -> Successful (or
// Failed, Overridden) as the endpoint really changes; a busy endpoint is
// retried, not skipped. Decisions not to scale are activities too, with
// their NotScaledReasons.
package autoscaler
