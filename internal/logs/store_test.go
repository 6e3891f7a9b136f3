package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
)

var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

const group = "/aws/sagemaker/Endpoints/ep"

func open(t *testing.T, dir string, clk clock.Clock, mut ...func(*Options)) *Store {
	t.Helper()
	opts := Options{Dir: filepath.Join(dir, "streams"), Clock: clk}
	for _, m := range mut {
		m(&opts)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

type got struct {
	at  time.Duration // after t0
	msg string
}

func events(t *testing.T, s *Store, stream string) []got {
	t.Helper()
	var out []got
	seq := int64(-1)
	err := s.Events(group, stream, func(ev Event) bool {
		if seq < 0 {
			seq = ev.Seq // the first kept
		}
		if ev.Seq != seq {
			t.Errorf("event %q has seq %d, want %d", ev.Message, ev.Seq, seq)
		}
		seq++
		out = append(out, got{ev.Time.Sub(t0), ev.Message})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFollowStampsEachLine(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(t0)
	s := open(t, dir, clk)
	src := filepath.Join(dir, "i1.log")
	done := make(chan struct{})
	if err := s.Follow(src, group, "AllTraffic/i1", done); err != nil {
		t.Fatal(err)
	}
	s.Collect() // no file yet: nothing, no error

	appendTo(t, src, "loading model\nserving on :8080\r\nhalf a li")
	clk.Advance(time.Second)
	s.Collect()
	appendTo(t, src, "ne\n\nlast words without a newline")
	clk.Advance(time.Second)
	s.Collect()
	want := []got{{time.Second, "loading model"}, {time.Second, "serving on :8080"}, {2 * time.Second, "half a line"}}
	if g := events(t, s, "AllTraffic/i1"); !slices.Equal(g, want) {
		t.Fatalf("events = %v, want %v", g, want)
	}

	close(done) // the instance ended: its last line counts, its file goes
	clk.Advance(time.Second)
	s.Collect()
	want = append(want, got{3 * time.Second, "last words without a newline"})
	if g := events(t, s, "AllTraffic/i1"); !slices.Equal(g, want) {
		t.Fatalf("after the end, events = %v, want %v", g, want)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("the output file is still there after the instance ended: %v", err)
	}
	streams, err := s.Streams(group)
	if err != nil || len(streams) != 1 {
		t.Fatalf("Streams = %v, %v", streams, err)
	}
	st := streams[0]
	if !st.Created.Equal(t0) || !st.First.Equal(t0.Add(time.Second)) || !st.Last.Equal(t0.Add(3*time.Second)) || st.StoredBytes == 0 {
		t.Errorf("stream = %+v", st)
	}
	if g := s.Groups(); len(g) != 1 || g[0].Name != group || g[0].StoredBytes != st.StoredBytes {
		t.Errorf("Groups = %+v", g)
	}
	if _, err := s.Streams("/aws/sagemaker/Endpoints/other"); err != ErrNotFound {
		t.Errorf("Streams of an unknown group: %v, want ErrNotFound", err)
	}
}

func TestLongLinesAreCut(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, clock.NewFake(t0))
	src := filepath.Join(dir, "i1.log")
	appendTo(t, src, strings.Repeat("x", MaxEventBytes+10)) // no newline yet
	s.Follow(src, group, "AllTraffic/i1", make(chan struct{}))
	s.Collect()
	g := events(t, s, "AllTraffic/i1")
	if len(g) != 1 || len(g[0].msg) != MaxEventBytes {
		t.Fatalf("got %d events, want one of %d bytes", len(g), MaxEventBytes)
	}
}

// twoLines is a store in a temporary directory that followed an instance's
// "one" and "two" into stream v/i1 (whose file is path) and was then left.
func twoLines(t *testing.T) (dir string, clk *clock.Fake, src, path string) {
	dir, clk = t.TempDir(), clock.NewFake(t0)
	s := open(t, dir, clk)
	src = filepath.Join(dir, "i1.log")
	s.Follow(src, group, "v/i1", make(chan struct{}))
	appendTo(t, src, "one\ntwo\n")
	s.Collect()
	return dir, clk, src, filepath.Join(dir, "streams", "%2Faws%2Fsagemaker%2FEndpoints%2Fep", "v%2Fi1.events")
}

// TestResumesWithoutLossOrRepeat: a server that stops (or crashes mid-write)
// and starts again reads each line of a running instance exactly once.
func TestResumesWithoutLossOrRepeat(t *testing.T) {
	dir, clk, src, path := twoLines(t)
	// A crash in mid-write leaves a torn line at the end of the stream.
	appendTo(t, path, "2 17")

	appendTo(t, src, "three\n") // while no server runs
	clk.Advance(time.Minute)
	s := open(t, dir, clk)
	done := make(chan struct{})
	s.Follow(src, group, "v/i1", done)
	close(done)
	s.Collect()
	want := []got{{0, "one"}, {0, "two"}, {time.Minute, "three"}}
	if g := events(t, s, "v/i1"); !slices.Equal(g, want) {
		t.Fatalf("events = %v, want %v", g, want)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(t0)
	s := open(t, dir, clk, func(o *Options) { o.RetentionDays = 1; o.MaxStreamBytes = 400 })
	old, live := filepath.Join(dir, "old.log"), filepath.Join(dir, "live.log")
	ended := make(chan struct{})
	close(ended)
	s.Follow(old, group, "v/old", ended)
	appendTo(t, old, "from the old instance\n")
	s.Follow(live, group, "v/live", make(chan struct{}))
	appendTo(t, live, "early\n")
	s.Collect()

	clk.Advance(25 * time.Hour)
	for i := range 20 {
		appendTo(t, live, strings.Repeat("y", 30)+string(rune('a'+i))+"\n")
	}
	s.Collect()
	s.Retain()
	streams, _ := s.Streams(group)
	if len(streams) != 1 || streams[0].Name != "v/live" {
		t.Fatalf("streams after a day = %+v, want v/live alone (v/old ended a day ago)", streams)
	}
	g := events(t, s, "v/live")
	if len(g) == 0 || g[0].msg == "early" || g[len(g)-1].msg != strings.Repeat("y", 30)+"t" {
		t.Fatalf("events after retention = %v: want the newest kept, the day-old one gone", g)
	}
	if st := streams[0]; st.StoredBytes > 200 || !st.First.Equal(t0.Add(25*time.Hour)) {
		t.Errorf("stream after the size bound = %+v: want at most half of 400 bytes", st)
	}
	// What is kept survives a restart, and its numbering goes on.
	s = open(t, dir, clk)
	var last int64
	s.Events(group, "v/live", func(ev Event) bool { last = ev.Seq; return true })
	if last != 20 {
		t.Errorf("last seq after restart = %d, want 20 (\"early\" was 0)", last)
	}
}

func TestRetentionMustBeCloudWatchs(t *testing.T) {
	if _, err := Open(Options{Dir: t.TempDir(), RetentionDays: 2}); err == nil || !strings.Contains(err.Error(), "one of [1 3 5") {
		t.Fatalf("Open with 2 days: %v", err)
	}
}

// TestDamagedStreamStillOpens: a stream file damaged in the middle keeps
// the events before the damage, and the server opens.
func TestDamagedStreamStillOpens(t *testing.T) {
	dir, clk, _, path := twoLines(t)
	appendTo(t, path, "garbage\n2 17 9 three\n")
	s := open(t, dir, clk)
	if g := events(t, s, "v/i1"); len(g) != 2 || g[1].msg != "two" {
		t.Fatalf("events after damage = %v, want one and two", g)
	}
}

// TestChattyInstance: megabytes of output between two reads all arrive, in
// order, written in bounded pieces.
func TestChattyInstance(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, clock.NewFake(t0))
	src := filepath.Join(dir, "i1.log")
	var b strings.Builder
	const n = 40000
	for i := range n {
		fmt.Fprintf(&b, "line %06d %s\n", i, strings.Repeat("x", 60))
	}
	appendTo(t, src, b.String())
	done := make(chan struct{})
	close(done)
	s.Follow(src, group, "v/i1", done)
	s.Collect()
	g := events(t, s, "v/i1")
	if len(g) != n || !strings.HasPrefix(g[n-1].msg, fmt.Sprintf("line %06d", n-1)) {
		t.Fatalf("%d events, last %q", len(g), g[len(g)-1].msg)
	}
}
