// Package examplemodel is the model server behind "ebb example-model": a
// small multi-layer perceptron on the SageMaker container contract (GET
// /ping, POST /invocations) that does real, tunable CPU work per request,
// so that CPU- and invocation-based scaling policies have something real to
// measure.
//
// Input is CSV (one row of numbers per line) or JSON ({"instances": [[...]]},
// [[...]] or [...]); output is CSV (one score per line) when the request
// accepts text/csv, otherwise {"predictions": [{"score": s}, ...]}. Each
// request costs about WorkPerRequest of CPU plus WorkPerKB for every KiB of
// payload, spent running the network deeper.
package examplemodel
