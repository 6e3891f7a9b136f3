package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestFuzzTargets runs every fuzz target of the module for a short while:
// scripts/fuzz with 5000 executions each (a few seconds for the slowest).
// A count, not a duration: Go 1.26's coordinator can report a spurious
// "context deadline exceeded" when a -fuzztime duration ends on a loaded
// machine (go.dev/issue/75804, fixed in 1.27). The longer pass is
// scripts/fuzz itself.
func TestFuzzTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a fuzzing pass over every decoder")
	}
	cmd := exec.Command("sh", "../scripts/fuzz")
	cmd.Env = append(os.Environ(), "FUZZTIME=5000x")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/fuzz: %v\n%s", err, out)
	}
	ran := strings.Count(string(out), "== Fuzz")
	if ran < 9 {
		t.Fatalf("only %d fuzz targets ran:\n%s", ran, out)
	}
	t.Logf("%d fuzz targets, 5000 executions each", ran)
}
