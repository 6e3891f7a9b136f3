package requestlog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/sim"
)

// TestLogIsATrace: what the log writes, ebb simulate reads.
func TestLogIsATrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requests.csv")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for i, ms := range []int{100, 300, 50} {
		l.Log(router.LogEntry{Received: t0.Add(time.Duration(i) * 700 * time.Millisecond), Endpoint: "e", Variant: "v", TargetModel: `a,"b"`,
			Model: time.Duration(ms) * time.Millisecond, Overhead: 200 * time.Microsecond})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Appending later keeps one header.
	l, _ = Open(path)
	l.Log(router.LogEntry{Received: t0.Add(2 * time.Second), Endpoint: "e", Outcome: router.Outcome5XX})
	l.Close()
	b, _ := os.ReadFile(path)
	want := Header +
		"2026-12-03 12:00:00.000000,e,v,,\"a,\"\"b\"\"\",ok,100.000,0.200\n" +
		"2026-12-03 12:00:00.700000,e,v,,\"a,\"\"b\"\"\",ok,300.000,0.200\n" +
		"2026-12-03 12:00:01.400000,e,v,,\"a,\"\"b\"\"\",ok,50.000,0.200\n" +
		"2026-12-03 12:00:02.000000,e,,,,5xx,0.000,0.000\n"
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	tr, cols, err := sim.LoadTrace(path, sim.TraceOptions{TimeColumn: "TIMESTAMP", ServiceColumn: "ModelLatencyMs", ServicePerUnit: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	services := cols.Services
	if len(tr) != 3 || tr[0] != 2 || tr[1] != 1 || tr[2] != 1 || len(services[0]) != 2 || services[0][0] != 0.1 || services[0][1] != 0.3 {
		t.Fatalf("trace %v, services %v", tr, services)
	}
}
