package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamples runs every example in examples/ against a real server, once
// per client installed: Debian's boto3 (/usr/bin/python3, CloudWatch over
// awsQuery), the boto3 first on PATH (newer, awsJson 1.0), Debian's AWS CLI
// v2 (/usr/bin/aws) and the CLI first on PATH. A client that is not
// installed is reported and skipped; scripts/test installs them. Each leg
// prints "N passed, N failed" on its own line.
func TestExamples(t *testing.T) {
	var scripts []string
	all, _ := filepath.Glob("../examples/*.py")
	for _, s := range all {
		if filepath.Base(s) != "ebb_example.py" { // the shared set-up
			scripts = append(scripts, s)
		}
	}
	if len(scripts) == 0 {
		t.Fatal("no examples found")
	}
	pythons := distinct("/usr/bin/python3", "python3")
	clis := distinct("/usr/bin/aws", "aws")
	for _, py := range pythons {
		if exec.Command(py, "-c", "import boto3").Run() != nil {
			fmt.Printf("%s: boto3 is not installed, leg skipped\n", py)
			continue
		}
		version, _ := exec.Command(py, "-c", "import boto3; print(boto3.__version__)").Output()
		leg(t, fmt.Sprintf("boto3 %s (%s)", strings.TrimSpace(string(version)), py), scripts, func(script string) *exec.Cmd {
			return exec.Command(py, filepath.Base(script))
		})
	}
	for _, aws := range clis {
		version, _ := exec.Command(aws, "--version").CombinedOutput()
		leg(t, fmt.Sprintf("%s (%s)", strings.Fields(string(version) + " ?")[0], aws), []string{"../examples/cli.sh"}, func(script string) *exec.Cmd {
			c := exec.Command("sh", filepath.Base(script))
			c.Env = append(os.Environ(), "AWS="+aws)
			return c
		})
	}
}

// leg runs scripts against one fresh server, each as a subtest.
func leg(t *testing.T, name string, scripts []string, command func(string) *exec.Cmd) {
	t.Run(name, func(t *testing.T) {
		s := startServer(t, t.TempDir(), "--time-scale", "60")
		passed, failed := 0, 0
		for _, script := range scripts {
			c := command(script)
			c.Dir = "../examples"
			if c.Env == nil {
				c.Env = os.Environ()
			}
			c.Env = append(c.Env, "EBB_ENDPOINT_URL="+s.URL)
			out, err := c.CombinedOutput()
			if err != nil {
				failed++
				t.Errorf("%s: %v\n%s", filepath.Base(script), err, out)
				continue
			}
			passed++
		}
		fmt.Printf("%s: %d passed, %d failed\n", name, passed, failed)
	})
}

// distinct resolves commands to paths, dropping missing and repeated ones.
func distinct(names ...string) []string {
	var paths []string
	seen := map[string]bool{}
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			fmt.Printf("%s: not installed, leg skipped\n", n)
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			real = p
		}
		if !seen[real] {
			seen[real] = true
			paths = append(paths, p)
		}
	}
	return paths
}
