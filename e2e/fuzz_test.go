package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestFuzzTargets runs every fuzz target of the module for a short while
// (scripts/fuzz with FUZZTIME=2s); the longer pass is scripts/fuzz itself.
func TestFuzzTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a fuzzing pass over every decoder")
	}
	cmd := exec.Command("sh", "../scripts/fuzz")
	cmd.Env = append(os.Environ(), "FUZZTIME=2s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/fuzz: %v\n%s", err, out)
	}
	ran := strings.Count(string(out), "== Fuzz")
	if ran < 9 {
		t.Fatalf("only %d fuzz targets ran:\n%s", ran, out)
	}
	t.Logf("%d fuzz targets, 2 s each", ran)
}
