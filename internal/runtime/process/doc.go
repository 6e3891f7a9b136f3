// Package process is ebb's default runtime: every instance is a local
// process that follows the SageMaker serving-container contract.
//
// The model's image is a command line ("python3 serve.py", "ebb example-model";
// a leading "ebb" means this very binary). Each instance gets its own working
// directory, a free loopback port in SAGEMAKER_BIND_TO_PORT and PORT, and
// SM_MODEL_DIR pointing at its model artifacts (a directory used in place, or
// a .tar.gz extracted into the working directory). It is healthy once GET
// /ping answers 200 within 2 s; if it is not healthy within the start limit
// (4 minutes), or later fails three health checks in a row, it is ended and
// reported through Done and Err, and hosting replaces it.
//
// Each instance runs in its own process group, so stopping it (SIGTERM, then
// SIGKILL after 30 s) reaches everything it started. Its pid is written to
// instance.json in its working directory so that a server restarted after a
// crash can find and stop the instances of its predecessor (Reap).
//
// Timers are real time, not the scaled clock: real processes start and stop
// at the speed they do.
package process
