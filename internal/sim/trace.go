package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Trace is requests per second, from its first second.
type Trace []float64

// TraceOptions say how to read a trace.
type TraceOptions struct {
	TimeColumn, CountColumn string
	// ServiceColumn, if set, gives each request of a per-request trace its
	// service time: ServiceBase + the column's value × ServicePerUnit.
	ServiceColumn               string
	ServiceBase, ServicePerUnit time.Duration
	// PromptColumn, if set, gives each request of a per-request trace its
	// prompt's tokens (an LLM trace's ContextTokens, for Model.Prompts).
	PromptColumn string
}

// PerRequest are a per-request trace's columns: each second's requests'
// values, in arrival order.
type PerRequest struct {
	Services [][]float64 // service times in seconds (Model.Services)
	Prompts  [][]float64 // prompt tokens (Model.Prompts)
}

// LoadTrace reads a CSV trace with a header row: per-second counts (the
// count column, "requests" by default) or one row per request (the time
// column, "TIMESTAMP" by default, "2006-01-02 15:04:05.9999999" or Unix
// seconds), bucketed by second from the first request. With a service
// column (and a prompt column) it also returns each second's requests'
// service times, in seconds (and prompt tokens), in arrival order.
func LoadTrace(path string, o TraceOptions) (Trace, PerRequest, error) {
	timeColumn, countColumn := o.TimeColumn, o.CountColumn
	f, err := os.Open(path)
	if err != nil {
		return nil, PerRequest{}, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, PerRequest{}, fmt.Errorf("%s: %w", path, err)
	}
	col := func(name string) int {
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), name) {
				return i
			}
		}
		return -1
	}
	if countColumn == "" {
		countColumn = "requests"
	}
	if timeColumn == "" {
		timeColumn = "TIMESTAMP"
	}
	ci, ti, si, pi := col(countColumn), col(timeColumn), -1, -1
	if o.ServiceColumn != "" {
		if si = col(o.ServiceColumn); si < 0 || ti < 0 {
			return nil, PerRequest{}, fmt.Errorf("%s: --service-time-column %q needs a per-request trace (a %q column) with that column", path, o.ServiceColumn, timeColumn)
		}
		ci = -1
	}
	if o.PromptColumn != "" {
		if pi = col(o.PromptColumn); pi < 0 || ti < 0 {
			return nil, PerRequest{}, fmt.Errorf("%s: --prompt-column %q needs a per-request trace (a %q column) with that column", path, o.PromptColumn, timeColumn)
		}
		ci = -1
	}
	var out Trace
	var services, prompts [][]float64
	var first time.Time
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, PerRequest{}, fmt.Errorf("%s: %w", path, err)
		}
		switch {
		case ci >= 0:
			n, err := strconv.ParseFloat(strings.TrimSpace(rec[ci]), 64)
			if err != nil || n < 0 {
				return nil, PerRequest{}, fmt.Errorf("%s:%d: %q is not a count", path, line, rec[ci])
			}
			out = append(out, n)
		case ti >= 0:
			t, err := parseTime(strings.TrimSpace(rec[ti]))
			if err != nil {
				return nil, PerRequest{}, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			if first.IsZero() {
				first = t
			}
			sec := int(t.Sub(first) / time.Second)
			if sec < 0 {
				return nil, PerRequest{}, fmt.Errorf("%s:%d: requests must be in time order", path, line)
			}
			for len(out) <= sec {
				out = append(out, 0)
				services = append(services, nil)
				prompts = append(prompts, nil)
			}
			out[sec]++
			if si >= 0 {
				v, err := strconv.ParseFloat(strings.TrimSpace(rec[si]), 64)
				if err != nil || v < 0 {
					return nil, PerRequest{}, fmt.Errorf("%s:%d: %q is not a service time", path, line, rec[si])
				}
				services[sec] = append(services[sec], (o.ServiceBase + time.Duration(v*float64(o.ServicePerUnit))).Seconds())
			}
			if pi >= 0 {
				v, err := strconv.ParseFloat(strings.TrimSpace(rec[pi]), 64)
				if err != nil || v < 0 {
					return nil, PerRequest{}, fmt.Errorf("%s:%d: %q is not a count of tokens", path, line, rec[pi])
				}
				prompts[sec] = append(prompts[sec], v)
			}
		default:
			return nil, PerRequest{}, fmt.Errorf("%s: no %q column (per-second counts) nor %q column (per-request times); name one with --count-column or --time-column", path, countColumn, timeColumn)
		}
	}
	if len(out) == 0 {
		return nil, PerRequest{}, fmt.Errorf("%s: no requests", path)
	}
	cols := PerRequest{Services: services, Prompts: prompts}
	if si < 0 {
		cols.Services = nil
	}
	if pi < 0 {
		cols.Prompts = nil
	}
	return out, cols, nil
}

func parseTime(s string) (time.Time, error) {
	if len(s) > 26 {
		s = s[:26] // 100 ns digits: microseconds are enough
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999", s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(f*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a time (2006-01-02 15:04:05.999) nor Unix seconds", s)
}

// Scale multiplies the trace's load (--scale).
func (t Trace) Scale(f float64) Trace {
	out := make(Trace, len(t))
	for i, n := range t {
		out[i] = n * f
	}
	return out
}
