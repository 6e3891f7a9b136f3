package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCopyStampedLines(t *testing.T) {
	since := time.Date(2026, 12, 5, 10, 0, 0, 500_000_000, time.UTC)
	for _, c := range []struct {
		name, in, want string
		since          time.Time
	}{
		{"all, stamps dropped", "2026-12-05T10:00:00.1Z a\n2026-12-05T10:00:01Z b\n", "a\nb\n", time.Time{}},
		{"only after since", "2026-12-05T10:00:00.4Z old\n2026-12-05T10:00:00.5Z same\n2026-12-05T10:00:00.6Z new\n", "new\n", since},
		{"a last line without newline", "2026-12-05T10:00:01Z end", "end\n", since},
		{"unstamped kept whole", "no stamp here\n", "no stamp here\n", since},
		{"an empty message", "2026-12-05T10:00:01Z \n", "\n", since},
	} {
		var out strings.Builder
		CopyStampedLines(&out, strings.NewReader(c.in), c.since, nil)
		if out.String() != c.want {
			t.Errorf("%s: %q, want %q", c.name, out.String(), c.want)
		}
	}
}

// TestContainerLogResumes: a copy resumed after the last line it copied
// holds every line once, however close the stamps.
func TestContainerLogResumes(t *testing.T) {
	l := ContainerLog{Path: filepath.Join(t.TempDir(), "i.log")}
	if !l.Since().IsZero() {
		t.Fatal("a new log has a stamp")
	}
	first := "2026-12-05T10:00:00.000000001Z a\n2026-12-05T10:00:00.000000002Z b\n"
	if err := l.Copy(strings.NewReader(first), l.Since()); err != nil {
		t.Fatal(err)
	}
	if got := l.Since(); !got.Equal(time.Date(2026, 12, 5, 10, 0, 0, 2, time.UTC)) {
		t.Fatalf("Since = %v, want b's stamp", got)
	}
	// The source again from a whole second before, as an API gives it.
	again := first + "2026-12-05T10:00:00.000000003Z c\n"
	if err := l.Copy(strings.NewReader(again), l.Since()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(l.Path)
	if string(b) != "a\nb\nc\n" {
		t.Fatalf("copy = %q, want each line once", b)
	}
	l.Remove()
	if !l.Since().IsZero() {
		t.Fatal("Remove left the stamp")
	}
}
