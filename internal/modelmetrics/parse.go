package modelmetrics

import (
	"bufio"
	"bytes"
	"io"
	"math"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Value is one metric an instance reported: a gauge's value, summed over
// its series (averaged for a ratio), or a counter's total.
type Value struct {
	Kind    Kind
	Counter bool
	V       float64
}

// Parse reads a Prometheus text exposition and returns the named metrics
// it holds. Gauges, untyped metrics and counters are read; a histogram or
// summary is left out (its buckets are not one number). Values that are
// not finite are left out.
//
// Only the named metrics' lines reach the Prometheus parser: a model
// server's page is mostly histograms ebb does not publish, and building
// them cost five times the rest of a scrape.
func Parse(r io.Reader, names map[string]Kind) (map[string]Value, error) {
	wanted, err := filter(r, names)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(wanted))
	if err != nil {
		return nil, err
	}
	out := map[string]Value{}
	for name, kind := range names {
		f := fams[name]
		if f == nil {
			continue
		}
		v := Value{Kind: kind, Counter: f.GetType() == dto.MetricType_COUNTER}
		n := 0
		for _, m := range f.GetMetric() {
			var x float64
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				x = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				x = m.GetUntyped().GetValue()
			case dto.MetricType_COUNTER:
				x = m.GetCounter().GetValue()
			default:
				continue
			}
			if math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
			v.V += x
			n++
		}
		if n == 0 {
			continue
		}
		if kind == Ratio && !v.Counter {
			v.V /= float64(n)
		}
		out[name] = v
	}
	return out, nil
}

// filter keeps the lines of an exposition that are about the named
// metrics: their samples, and their # TYPE and # HELP lines.
func filter(r io.Reader, names map[string]Kind) ([]byte, error) {
	var out bytes.Buffer
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		name := line
		if rest, ok := bytes.CutPrefix(line, []byte("# TYPE ")); ok {
			name = rest
		} else if rest, ok := bytes.CutPrefix(line, []byte("# HELP ")); ok {
			name = rest
		} else if len(line) > 0 && line[0] == '#' {
			continue
		}
		if i := bytes.IndexAny(name, "{ \t"); i >= 0 {
			name = name[:i]
		}
		if _, ok := names[string(name)]; ok {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes(), sc.Err()
}
