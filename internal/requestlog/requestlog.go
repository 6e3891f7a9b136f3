package requestlog

import (
	"bufio"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/router"
)

// Header is the file's first line.
const Header = "TIMESTAMP,EndpointName,VariantName,InferenceComponentName,TargetModel,Outcome,ModelLatencyMs,OverheadLatencyMs\n"

// Log appends entries to a file through a buffer; Flush writes them out.
type Log struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	buf []byte
}

// Open appends to path, writing the header into a new or empty file.
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	l := &Log{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	if info, err := f.Stat(); err == nil && info.Size() == 0 {
		l.w.WriteString(Header)
	}
	return l, nil
}

var outcomes = map[router.Outcome]string{router.OutcomeOK: "ok", router.Outcome4XX: "4xx", router.Outcome5XX: "5xx", router.OutcomeFailed: "failed", router.OutcomeRejected: "rejected"}

// Log writes one entry (to the buffer).
func (l *Log) Log(e router.LogEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := e.Received.UTC().AppendFormat(l.buf[:0], "2006-01-02 15:04:05.000000")
	for _, s := range []string{e.Endpoint, e.Variant, e.Component, e.TargetModel, outcomes[e.Outcome]} {
		b = append(b, ',')
		b = appendField(b, s)
	}
	b = append(b, ',')
	b = strconv.AppendFloat(b, float64(e.Model.Microseconds())/1000, 'f', 3, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, float64(e.Overhead.Microseconds())/1000, 'f', 3, 64)
	b = append(b, '\n')
	l.w.Write(b)
	l.buf = b
}

// appendField appends s as a CSV field, quoted when it must be (a
// TargetModel may hold commas or quotes).
func appendField(b []byte, s string) []byte {
	quote := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			quote = true
			break
		}
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// Flush writes the buffered entries to the file.
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Flush()
}

// Close flushes and closes the file.
func (l *Log) Close() error {
	err := l.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// FlushEvery is how often the server writes the log out.
const FlushEvery = time.Second
