package e2e

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// pollEvery is how often eventually asks: the servers, clusters and
// processes under test answer in milliseconds.
const pollEvery = 20 * time.Millisecond

// eventually is the tests' one wait: it asks cond every pollEvery until it
// holds, and fails the test after limit, saying what never happened and
// what cond saw last. It waits for an event in a real server, cluster or
// process, never for time to pass (apimachinery's
// wait.PollUntilContextTimeout).
func eventually(t testing.TB, limit time.Duration, what string, cond func() (ok bool, last any)) {
	t.Helper()
	var last any
	err := wait.PollUntilContextTimeout(context.Background(), pollEvery, limit, true, func(context.Context) (bool, error) {
		var ok bool
		ok, last = cond()
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %v (last: %v)", what, limit, last)
	}
}
