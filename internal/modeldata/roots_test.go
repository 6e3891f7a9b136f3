package modeldata

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWithin: a path under a root passes, one elsewhere or reached through
// a link out of the root does not.
func TestWithin(t *testing.T) {
	root, other := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "model.tar.gz"), nil, 0o644)
	os.WriteFile(filepath.Join(other, "secret"), nil, 0o644)
	os.Symlink(filepath.Join(other, "secret"), filepath.Join(root, "link"))
	for path, ok := range map[string]bool{
		filepath.Join(root, "model.tar.gz"): true,
		root:                                true,
		filepath.Join(other, "secret"):      false,
		filepath.Join(root, "..", "x"):      false,
		filepath.Join(root, "link"):         false,
		"/etc/passwd":                       false,
	} {
		if err := Within(path, []string{root}); (err == nil) != ok {
			t.Errorf("Within(%s) = %v, want allowed %v", path, err, ok)
		}
	}
	if err := Within("/etc/passwd", nil); err != nil {
		t.Errorf("no roots: %v", err)
	}
}
