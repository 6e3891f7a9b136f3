package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
)

// Defaults of Options.
const (
	DefaultRetentionDays  = 30
	DefaultMaxStreamBytes = 64 << 20
	DefaultPollInterval   = 500 * time.Millisecond
	// MaxEventBytes bounds one event, as CloudWatch Logs bounds an event of
	// PutLogEvents (256 KiB): a longer line is cut into events of this size.
	MaxEventBytes = 256 << 10
	// retentionEvery is how often retention is enforced.
	retentionEvery = time.Minute
)

// RetentionDays are the retention periods CloudWatch Logs accepts (the
// values its Days shape documents); Options.Retention must be one of them.
var RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// ErrNotFound is returned for a group or stream that does not exist.
var ErrNotFound = errors.New("logs: not found")

// Options configure a Store. Zero fields take the defaults above.
type Options struct {
	// Dir holds the streams, a directory per group.
	Dir   string
	Clock clock.Clock
	// RetentionDays is how long events are kept; one of RetentionDays.
	RetentionDays int
	// MaxStreamBytes bounds what one stream keeps (its oldest events go).
	MaxStreamBytes int64
	// PollInterval is how often followed files are read.
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Event is one line of an instance's output.
type Event struct {
	// Seq numbers the events of a stream, from 0, for good.
	Seq int64
	// Time is when the line was read (CloudWatch's timestamp and
	// ingestion time both).
	Time    time.Time
	Message string
}

// Stream describes one stream.
type Stream struct {
	Group, Name string
	Created     time.Time
	// First and Last are the times of its first and last events; zero
	// while it has none.
	First, Last time.Time
	StoredBytes int64
}

// Group describes one group.
type Group struct {
	Name        string
	Created     time.Time
	StoredBytes int64
}

type key struct{ group, stream string }

type stream struct {
	Stream
	path    string
	nextSeq int64
	// off is where in the followed file the last event ended.
	off int64
	src *source // nil when the stream is not followed
}

// source is a followed file and the end of the instance writing it.
type source struct {
	path string
	done <-chan struct{}
}

// Store keeps streams in files and follows instances' output files. One
// goroutine (Run) writes; readers may call any method at any time.
type Store struct {
	opts Options
	mu   sync.Mutex
	all  map[key]*stream
}

// Open reads the streams kept in opts.Dir; it starts nothing (Run does).
func Open(opts Options) (*Store, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.RetentionDays == 0 {
		opts.RetentionDays = DefaultRetentionDays
	}
	if !slices.Contains(RetentionDays, opts.RetentionDays) {
		return nil, fmt.Errorf("log retention of %d days: CloudWatch Logs keeps events for one of %v days", opts.RetentionDays, RetentionDays)
	}
	if opts.MaxStreamBytes == 0 {
		opts.MaxStreamBytes = DefaultMaxStreamBytes
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	s := &Store{opts: opts, all: map[key]*stream{}}
	groups, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		group, err := url.PathUnescape(g.Name())
		if !g.IsDir() || err != nil {
			continue
		}
		files, err := os.ReadDir(filepath.Join(opts.Dir, g.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			base, ok := strings.CutSuffix(f.Name(), ".events")
			name, err := url.PathUnescape(base)
			if !ok || err != nil {
				continue
			}
			st, err := load(filepath.Join(opts.Dir, g.Name(), f.Name()))
			if err != nil {
				return nil, fmt.Errorf("log stream %s %s: %w", group, name, err)
			}
			st.Group, st.Name = group, name
			s.all[key{group, name}] = st
		}
	}
	return s, nil
}

// load reads a stream file's summary, cutting off a torn last line (or a
// damaged one and what follows it: a server must start whatever a disk did
// to its logs).
func load(path string) (*stream, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st := &stream{path: path}
	r := bufio.NewReaderSize(f, 64<<10)
	var good int64
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: read the rest of it.
			rest, rerr := r.ReadBytes('\n')
			line, err = append(slices.Clone(line), rest...), rerr
		}
		if err != nil {
			break // io.EOF, with a torn line or none
		}
		n := int64(len(line))
		if rest, ok := bytes.CutPrefix(line, []byte("#created ")); ok && good == 0 {
			ms, perr := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
			if perr != nil {
				return nil, fmt.Errorf("bad header: %q", line)
			}
			st.Created = time.UnixMilli(ms)
			good += n
			continue
		}
		ev, off, perr := parse(line)
		if perr != nil {
			break // damaged: what follows is cut off, as a torn line is
		}
		if st.First.IsZero() {
			st.First = ev.Time
		}
		st.Last, st.nextSeq, st.off = ev.Time, ev.Seq+1, off
		good += n
	}
	if err := f.Truncate(good); err != nil {
		return nil, err
	}
	st.StoredBytes = good
	return st, nil
}

// parse reads one event line: "<seq> <ms> <offset> <message>\n".
func parse(line []byte) (Event, int64, error) {
	var n [3]int64
	rest := line
	for i := range n {
		field, after, ok := bytes.Cut(rest, []byte{' '})
		v, err := strconv.ParseInt(string(field), 10, 64)
		if !ok || err != nil {
			return Event{}, 0, fmt.Errorf("bad event line %q", line)
		}
		n[i], rest = v, after
	}
	msg := bytes.TrimSuffix(rest, []byte{'\n'})
	return Event{Seq: n[0], Time: time.UnixMilli(n[1]), Message: string(msg)}, n[2], nil
}

func appendEvent(b []byte, ev Event, off int64) []byte {
	b = strconv.AppendInt(b, ev.Seq, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, ev.Time.UnixMilli(), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, off, 10)
	b = append(b, ' ')
	b = append(b, ev.Message...)
	return append(b, '\n')
}

// Follow makes the Store read the file src, which an instance writes, into
// stream of group, until done is closed; then it reads the file to its end
// and removes it. A stream followed before (by a server that was stopped)
// resumes where it ended.
func (s *Store) Follow(src, group, stream string, done <-chan struct{}) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stream(group, stream)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(src); err == nil && fi.Size() < st.off {
		st.off = 0 // a new file in the old one's place
	}
	st.src = &source{path: src, done: done}
	return nil
}

// stream returns a stream, made if there is none. Callers hold s.mu.
func (s *Store) stream(group, name string) (*stream, error) {
	k := key{group, name}
	if st := s.all[k]; st != nil {
		return st, nil
	}
	dir := filepath.Join(s.opts.Dir, url.PathEscape(group))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	now := s.opts.Clock.Now()
	st := &stream{Stream: Stream{Group: group, Name: name, Created: now}, path: filepath.Join(dir, url.PathEscape(name)+".events")}
	head := fmt.Appendf(nil, "#created %d\n", now.UnixMilli())
	if err := os.WriteFile(st.path, head, 0o644); err != nil {
		return nil, err
	}
	st.StoredBytes = int64(len(head))
	s.all[k] = st
	return st, nil
}

// Run follows the files until ctx ends, and enforces retention.
func (s *Store) Run(ctx context.Context) {
	poll := s.opts.Clock.NewTicker(s.opts.PollInterval)
	defer poll.Stop()
	var lastRetention time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-poll.C():
			s.Collect()
			if now.Sub(lastRetention) >= retentionEvery {
				s.Retain()
				lastRetention = now
			}
		}
	}
}

// Collect reads what the followed files have gained since the last call.
// Run calls it each poll interval; a server stopping calls it once more
// after its instances have stopped, so their last lines are kept.
func (s *Store) Collect() {
	s.mu.Lock()
	var followed []*stream
	for _, st := range s.all {
		if st.src != nil {
			followed = append(followed, st)
		}
	}
	s.mu.Unlock()
	for _, st := range followed {
		if err := s.collect(st); err != nil {
			s.opts.Logger.Warn("reading an instance's output", "group", st.Group, "stream", st.Name, "err", err)
		}
	}
}

// collect reads one followed file from the stream's offset: each complete
// line becomes an event; a line without its newline waits for the next
// call, unless it has reached MaxEventBytes or the instance has ended.
func (s *Store) collect(st *stream) error {
	src := st.src
	ended := closed(src.done) // before reading: what was written before the end is read
	f, err := os.Open(src.path)
	if errors.Is(err, os.ErrNotExist) {
		if ended {
			s.mu.Lock()
			st.src = nil
			s.mu.Unlock()
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	now := s.opts.Clock.Now().Truncate(time.Millisecond)
	var out []byte
	seq, off := st.nextSeq, st.off
	buf := make([]byte, 64<<10)
	var pending []byte // read, not yet an event
	for {
		n, rerr := f.ReadAt(buf, off+int64(len(pending)))
		pending = append(pending, buf[:n]...)
		for {
			line, rest, ok := bytes.Cut(pending, []byte{'\n'})
			if !ok && len(pending) >= MaxEventBytes {
				line, rest, ok = pending[:MaxEventBytes], pending[MaxEventBytes:], true
			}
			if !ok {
				break
			}
			off += int64(len(pending) - len(rest))
			pending = rest
			if line = bytes.TrimSuffix(line, []byte{'\r'}); len(line) > 0 {
				out = appendEvent(out, Event{Seq: seq, Time: now, Message: string(line)}, off)
				seq++
			}
		}
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return rerr
		}
		if ended && rerr != nil && len(pending) > 0 {
			off += int64(len(pending))
			out = appendEvent(out, Event{Seq: seq, Time: now, Message: string(bytes.TrimSuffix(pending, []byte{'\r'}))}, off)
			seq++
		}
		// A chatty instance's output goes in bounded writes.
		if len(out) >= 1<<20 || rerr != nil {
			if err := s.append(st, out, seq, off, now); err != nil {
				return err
			}
			out = out[:0]
		}
		if rerr != nil {
			break
		}
	}
	if ended {
		s.mu.Lock()
		st.src = nil
		s.mu.Unlock()
		return os.Remove(src.path)
	}
	return nil
}

// append writes events to a stream's file and records how far they go:
// seq is the next event's number and off where in the followed file the
// last one ended. A failed write is cut off again, so that the file keeps
// whole lines and the same lines are read again next time.
func (s *Store) append(st *stream, out []byte, seq, off int64, now time.Time) error {
	if len(out) > 0 {
		w, err := os.OpenFile(st.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		if err != nil {
			w.Truncate(st.StoredBytes)
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq > st.nextSeq {
		if st.First.IsZero() {
			st.First = now
		}
		st.Last = now
	}
	st.nextSeq, st.off = seq, off
	st.StoredBytes += int64(len(out))
	return nil
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Retain deletes events older than the retention period, streams (not
// followed) and groups left without events, and the oldest events of a
// stream above MaxStreamBytes (down to half of it, so that a busy stream
// is not rewritten every time).
func (s *Store) Retain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.opts.Clock.Now().Add(-time.Duration(s.opts.RetentionDays) * 24 * time.Hour)
	for k, st := range s.all {
		newest := st.Last
		if newest.IsZero() {
			newest = st.Created
		}
		var err error
		switch {
		case st.src == nil && newest.Before(cutoff):
			err = os.Remove(st.path)
			delete(s.all, k)
			os.Remove(filepath.Dir(st.path)) // only if the group is now empty
		case (!st.First.IsZero() && st.First.Before(cutoff)) || st.StoredBytes > s.opts.MaxStreamBytes:
			err = s.trim(st, cutoff)
		}
		if err != nil {
			s.opts.Logger.Warn("enforcing log retention", "group", st.Group, "stream", st.Name, "err", err)
		}
	}
}

// trim rewrites a stream without its events before cutoff and, while it
// is above half of MaxStreamBytes, without its oldest. Callers hold s.mu.
func (s *Store) trim(st *stream, cutoff time.Time) error {
	type line struct {
		ev  Event
		off int64
	}
	var lines []line
	err := readFile(st.path, st.StoredBytes, func(ev Event, off int64) bool {
		if !ev.Time.Before(cutoff) {
			lines = append(lines, line{ev, off})
		}
		return true
	})
	if err != nil {
		return err
	}
	head := fmt.Appendf(nil, "#created %d\n", st.Created.UnixMilli())
	size := int64(len(head))
	keep := len(lines)
	for keep > 0 {
		n := int64(len(appendEvent(nil, lines[keep-1].ev, lines[keep-1].off)))
		if size+n > s.opts.MaxStreamBytes/2 && st.StoredBytes > s.opts.MaxStreamBytes {
			break
		}
		size += n
		keep--
	}
	out := head
	for _, l := range lines[keep:] {
		out = appendEvent(out, l.ev, l.off)
	}
	tmp := st.path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, st.path); err != nil {
		return err
	}
	st.StoredBytes = int64(len(out))
	st.First, st.Last = time.Time{}, time.Time{}
	if kept := lines[keep:]; len(kept) > 0 {
		st.First, st.Last = kept[0].ev.Time, kept[len(kept)-1].ev.Time
	}
	return nil
}

// readFile calls fn with each event of a stream file's first size bytes.
func readFile(path string, size int64, fn func(ev Event, off int64) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return scan(f, size, fn)
}

// scan calls fn with each event of the first size bytes of r (a stream
// file), until fn returns false.
func scan(r io.Reader, size int64, fn func(ev Event, off int64) bool) error {
	br := bufio.NewReaderSize(io.LimitReader(r, size), 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if line[0] == '#' {
			continue
		}
		ev, off, err := parse(line)
		if err != nil {
			return err
		}
		if !fn(ev, off) {
			return nil
		}
	}
}

// RetentionDays is how many days events are kept.
func (s *Store) RetentionDays() int { return s.opts.RetentionDays }

// Groups returns the groups, by name.
func (s *Store) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	byName := map[string]*Group{}
	for _, st := range s.all {
		g := byName[st.Group]
		if g == nil {
			g = &Group{Name: st.Group, Created: st.Created}
			byName[st.Group] = g
		}
		if st.Created.Before(g.Created) {
			g.Created = st.Created
		}
		g.StoredBytes += st.StoredBytes
	}
	out := make([]Group, 0, len(byName))
	for _, g := range byName {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Streams returns a group's streams, by name; ErrNotFound if it has none.
func (s *Store) Streams(group string) ([]Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Stream
	for _, st := range s.all {
		if st.Group == group {
			out = append(out, st.Stream)
		}
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	slices.SortFunc(out, func(a, b Stream) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Events calls fn with the events of a stream, oldest first, until fn
// returns false; ErrNotFound if there is no such stream. It reads what the
// stream held when it was called.
func (s *Store) Events(group, stream string, fn func(Event) bool) error {
	s.mu.Lock()
	st := s.all[key{group, stream}]
	if st == nil {
		s.mu.Unlock()
		return ErrNotFound
	}
	// Opened under the lock: a trim renames a new file into place, and the
	// size read here is the one of the file opened.
	f, err := os.Open(st.path)
	size := st.StoredBytes
	s.mu.Unlock()
	if err != nil {
		return err
	}
	defer f.Close()
	return scan(f, size, func(ev Event, _ int64) bool { return fn(ev) })
}

// EndpointGroup is the log group of an endpoint's instances, as SageMaker
// names it.
func EndpointGroup(endpoint string) string { return "/aws/sagemaker/Endpoints/" + endpoint }

// InstanceStream is the log stream of one instance, as SageMaker names it.
func InstanceStream(variant, instance string) string { return variant + "/" + instance }
