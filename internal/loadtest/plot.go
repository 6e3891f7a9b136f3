package loadtest

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"slices"
	"time"

	"github.com/ebbscale/ebb/internal/plotfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Plot draws latency percentiles against offered load, with the SLO, the
// knee and the maximum marked, as PNG and SVG.
func Plot(res Result, slo time.Duration) (png, svg []byte, err error) {
	p := plot.New()
	p.Title.Text = "Latency against offered load"
	p.X.Label.Text = "offered load (requests per second)"
	p.Y.Label.Text = "latency (ms)"
	steps := slices.Clone(res.Steps)
	slices.SortFunc(steps, func(a, b Step) int { return cmpFloat(a.OfferedRPS, b.OfferedRPS) })
	line := func(pick func(Step) time.Duration) plotter.XYs {
		var xys plotter.XYs
		for _, s := range steps {
			xys = append(xys, plotter.XY{X: s.OfferedRPS, Y: Millis(pick(s))})
		}
		return xys
	}
	top := 0.0
	for i, q := range []struct {
		name string
		pick func(Step) time.Duration
	}{{"p50", func(s Step) time.Duration { return s.P50 }}, {"p90", func(s Step) time.Duration { return s.P90 }}, {"p99", func(s Step) time.Duration { return s.P99 }}} {
		l, err := plotter.NewLine(line(q.pick))
		if err != nil {
			return nil, nil, err
		}
		l.Color = []color.Color{color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff}}[i]
		l.Width = vg.Points(1 + float64(i)/2)
		l.Dashes = [][]vg.Length{{vg.Points(2), vg.Points(2)}, {vg.Points(6), vg.Points(2)}, nil}[i]
		p.Add(l)
		p.Legend.Add(q.name, l)
	}
	for _, s := range steps {
		top = max(top, Millis(s.P99))
	}
	x0, x1 := steps[0].OfferedRPS, steps[len(steps)-1].OfferedRPS
	mark := func(name string, xys plotter.XYs, dashes []vg.Length) error {
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Dashes = dashes
		l.Color = color.Gray{0x70}
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	if err := mark(fmt.Sprintf("SLO p99 %v", slo), plotter.XYs{{X: x0, Y: Millis(slo)}, {X: x1, Y: Millis(slo)}}, []vg.Length{vg.Points(1), vg.Points(3)}); err != nil {
		return nil, nil, err
	}
	if err := mark(fmt.Sprintf("knee %.1f req/s", res.Knee.OfferedRPS), plotter.XYs{{X: res.Knee.OfferedRPS, Y: 0}, {X: res.Knee.OfferedRPS, Y: max(top, Millis(slo))}}, []vg.Length{vg.Points(4), vg.Points(4)}); err != nil {
		return nil, nil, err
	}
	p.Legend.Top, p.Legend.Left = true, true
	// Far beyond the SLO the curve only says "broken": keep the
	// sustainable range readable.
	p.Y.Min, p.Y.Max = 0, max(min(top, 3*Millis(slo)), 1.1*Millis(slo))
	return plotfile.Render(p, 8*vg.Inch, 4.5*vg.Inch)
}

// Millis is d in milliseconds, to the microsecond.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// page is the HTML report: the plot, the recommendation and every step.
var page = template.Must(template.New("").Funcs(template.FuncMap{
	"ms":  func(d time.Duration) string { return fmt.Sprintf("%.1f", Millis(d)) },
	"pct": func(f float64) float64 { return 100 * f },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>ebb loadtest: {{.Endpoint}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:right;border-bottom:1px solid #ddd}pre{background:#f6f6f6;padding:1em}</style></head>
<body><h1>ebb loadtest: endpoint {{.Endpoint}}</h1>
<p>SLO: p99 within {{.SLO}}, errors at most {{.ErrorRate}}. Open-loop load; latencies count from when each request was due.</p>
<figure>{{.SVG}}</figure>
<h2>Recommendation (per instance)</h2>
<table>
<tr><th>max sustainable load</th><td>{{printf "%.1f" .Rec.MaxRPSPerInstance}} req/s</td></tr>
<tr><th>knee of the latency curve</th><td>{{printf "%.1f" .Rec.KneeRPSPerInstance}} req/s</td></tr>
<tr><th>InvocationsPerInstance target, AWS formula (max × 0.5 × 60)</th><td>{{printf "%.0f" .Rec.AWSFormulaTarget}}</td></tr>
<tr><th>InvocationsPerInstance target, ebb (knee × 60)</th><td>{{printf "%.0f" .Rec.KneeTarget}}</td></tr>
<tr><th>ConcurrentRequestsPerModel target</th><td>{{printf "%.1f" .Rec.ConcurrencyTarget}}</td></tr>
<tr><th>CPUUtilization target</th><td>{{if .Rec.CPUTarget}}{{printf "%.1f" .Rec.CPUTarget}}{{else}}not measured{{end}}</td></tr>
<tr><th>cooldowns (scale-out / scale-in)</th><td>{{.Rec.ScaleOutCooldown}} s / {{.Rec.ScaleInCooldown}} s</td></tr>
</table>
<h2>put_scaling_policy arguments</h2><pre>{{.Policy}}</pre>
<h2>Steps</h2>
<table><tr><th>offered req/s</th><th>answered/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>errors</th><th>within the SLO</th></tr>
{{range .Steps}}<tr><td>{{printf "%.1f" .OfferedRPS}}</td><td>{{printf "%.1f" .AchievedRPS}}</td><td>{{ms .P50}}</td><td>{{ms .P90}}</td><td>{{ms .P99}}</td><td>{{printf "%.2f%%" (pct .ErrorRate)}}</td><td>{{if .Sustainable}}yes{{else}}no{{end}}</td></tr>
{{end}}</table></body></html>
`))

// Report is what the HTML page shows.
type Report struct {
	Endpoint, ErrorRate string
	SLO                 time.Duration
	Result              Result
	Rec                 Recommendation
	Policy              string // indented JSON
}

// HTML renders the report with its plot (SVG, inline).
func HTML(r Report, svg []byte) ([]byte, error) {
	if i := bytes.Index(svg, []byte("<svg")); i > 0 {
		svg = svg[i:] // inline: without the XML declaration
	}
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{"Endpoint": r.Endpoint, "SLO": r.SLO, "ErrorRate": r.ErrorRate, "Rec": r.Rec, "Policy": r.Policy,
		"Steps": r.Result.Steps, "SVG": plotfile.Inline(svg)})
	return b.Bytes(), err
}
