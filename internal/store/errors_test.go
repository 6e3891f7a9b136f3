package store

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestReport(t *testing.T) {
	c := WriteErrors.WithLabelValues("test", "op")
	before := testutil.ToFloat64(c)
	Report(slog.New(slog.DiscardHandler), "test", "op", nil)
	Report(slog.New(slog.DiscardHandler), "test", "op", errors.New("disk full"))
	if got := testutil.ToFloat64(c) - before; got != 1 {
		t.Fatalf("counted %v errors, want 1 (nil is no error)", got)
	}
}
