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
// v2 (/usr/bin/aws), the CLI first on PATH, and examples/gosdk with the Go
// SDK v2. A client that is not installed is reported and skipped;
// .ci/run installs them. Each leg prints "N passed, N failed" on its own line.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("client legs run real servers and clients")
	}
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
	readmePython, readmeCLI := readmeSnippets(t)
	pythons := distinct("/usr/bin/python3", "python3")
	clis := distinct("/usr/bin/aws", "aws")
	for _, py := range pythons {
		if exec.Command(py, "-c", "import boto3").Run() != nil {
			fmt.Printf("%s: boto3 is not installed, leg skipped\n", py)
			continue
		}
		version, _ := exec.Command(py, "-c", "import boto3; print(boto3.__version__)").Output()
		leg(t, fmt.Sprintf("boto3 %s (%s)", strings.TrimSpace(string(version)), py), append(scripts, readmePython...), func(script string) *exec.Cmd {
			return exec.Command(py, script)
		})
	}
	goExample := filepath.Join(t.TempDir(), "gosdk")
	if out, err := exec.Command("go", "build", "-o", goExample, "../examples/gosdk").CombinedOutput(); err != nil {
		t.Fatalf("building examples/gosdk: %v\n%s", err, out)
	}
	leg(t, "Go SDK v2", []string{goExample}, func(script string) *exec.Cmd { return exec.Command(script) })
	for _, aws := range clis {
		version, _ := exec.Command(aws, "--version").CombinedOutput()
		leg(t, fmt.Sprintf("%s (%s)", strings.Fields(string(version) + " ?")[0], aws), append([]string{"../examples/cli.sh"}, readmeCLI...), func(script string) *exec.Cmd {
			c := exec.Command("sh", "-e", script)
			c.Env = append(os.Environ(), "AWS="+aws)
			return c
		})
	}
}

// readmeSnippets writes the README's boto3 and AWS CLI code blocks to files,
// so that everything the README shows is run by CI. They talk to
// http://127.0.0.1:8080, which leg replaces with its server's address.
func readmeSnippets(t *testing.T) (python, cli []string) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	blocks := strings.Split(string(b), "```")
	for i := 1; i < len(blocks); i += 2 {
		lang, code, _ := strings.Cut(blocks[i], "\n")
		var name string
		switch {
		case lang == "python" && strings.Contains(code, "boto3"):
			name = fmt.Sprintf("README-%d.py", i)
			python = append(python, filepath.Join(dir, name))
		case lang == "sh" && strings.Contains(code, "aws $E"):
			name = fmt.Sprintf("README-%d.sh", i)
			cli = append(cli, filepath.Join(dir, name))
		default:
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(python) == 0 || len(cli) == 0 {
		t.Fatal("the README has no boto3 or AWS CLI snippet")
	}
	return python, cli
}

// leg runs scripts against one fresh server, each as a subtest.
func leg(t *testing.T, name string, scripts []string, command func(string) *exec.Cmd) {
	t.Run(name, func(t *testing.T) {
		s := startServer(t, t.TempDir(), "--time-scale", "60")
		passed, failed := 0, 0
		for _, script := range scripts {
			script, _ = filepath.Abs(script)
			dir := filepath.Dir(script)
			if strings.HasPrefix(filepath.Base(script), "README-") {
				dir = t.TempDir()
				b, err := os.ReadFile(script)
				if err != nil {
					t.Fatal(err)
				}
				code := strings.ReplaceAll(string(b), "http://127.0.0.1:8080", s.URL)
				if strings.HasSuffix(script, ".sh") { // run the leg's CLI, not the first on PATH
					code = `aws() { "$AWS" "$@"; }` + "\n" + code
				}
				script = filepath.Join(dir, filepath.Base(script))
				if err := os.WriteFile(script, []byte(code), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := command(script)
			c.Dir = dir
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
