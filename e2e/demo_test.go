package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDemo runs the README's first command, faster: an endpoint scales out
// under the traffic ramp and back in, and no request fails.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the whole demo")
	}
	out, err := exec.Command(ebbBin, "demo", "--time-scale", "90").CombinedOutput()
	if err != nil {
		t.Fatalf("ebb demo: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`summary: peak (\d+) instances; .* (\d+) requests, (\d+) failed`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no summary:\n%s", out)
	}
	peak, _ := strconv.Atoi(m[1])
	if peak < 2 || m[3] != "0" || !strings.Contains(string(out), "Setting desired instance count to 1.") {
		t.Fatalf("the demo did not scale out and back in without failures:\n%s", out)
	}
}
