// Package hosting owns SageMaker's hosting objects (models, endpoint
// configurations, endpoints and their production variants) and makes
// endpoints real: it keeps each variant's instances running through a
// runtime.Runtime and publishes the healthy ones to the router.
//
// Each endpoint is owned by one goroutine (its reconciler, endpoint.go). API
// calls that change an endpoint are handed to that goroutine, which checks
// the endpoint's status, persists the change and then converges the running
// instances on the desired state, level-triggered, the way a Kubernetes
// controller does. The status machine is SageMaker's:
//
//	CreateEndpoint ──► Creating ──all instances healthy──► InService
//	                      │                                  │  ▲
//	              an instance fails                UpdateEndpoint / UpdateEndpoint-
//	                      ▼                        WeightsAndCapacities
//	                   Failed                                ▼  │ converged (or new fleet
//	                                                     Updating  failed: FailureReason)
//	                                                         │
//	                                     a new instance fails during a capacity change
//	                                                         ▼
//	                                                    RollingBack ──converged──► InService
//	DeleteEndpoint (not while Creating/Updating) ──► Deleting ──instances stopped──► gone
//
// UpdateEndpoint is blue/green: the new configuration's fleet starts beside
// the old one, traffic moves when all of it is healthy, and only then are
// the old instances drained and stopped, so no request is dropped.
package hosting
