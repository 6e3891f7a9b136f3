package sim

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"

	"github.com/ebbscale/ebb/internal/plotfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var palette = []color.Color{color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}}

// Plot draws the load and each policy's capacity, minute by minute, as PNG
// and SVG. Long traces are drawn in steps of several minutes.
func Plot(reports []Report) (png, svg []byte, err error) {
	p := plot.New()
	p.Title.Text = "Load and capacity"
	p.X.Label.Text = "hours"
	p.Y.Label.Text = "requests per minute"
	if len(reports) == 0 || len(reports[0].Minutes) == 0 {
		return nil, nil, fmt.Errorf("nothing to plot")
	}
	step := max(1, len(reports[0].Minutes)/1500)
	series := func(ms []Minute, pick func(Minute) float64) plotter.XYs {
		var xys plotter.XYs
		for i := 0; i < len(ms); i += step {
			v := 0.0
			for _, m := range ms[i:min(i+step, len(ms))] {
				v = max(v, pick(m))
			}
			xys = append(xys, plotter.XY{X: float64(i) / 60, Y: v})
		}
		return xys
	}
	load, err := plotter.NewLine(series(reports[0].Minutes, func(m Minute) float64 { return m.Requests }))
	if err != nil {
		return nil, nil, err
	}
	load.Color = color.Gray{0x90}
	p.Add(load)
	p.Legend.Add("load", load)
	for i, r := range reports {
		l, err := plotter.NewLine(series(r.Minutes, func(m Minute) float64 { return m.Capacity }))
		if err != nil {
			return nil, nil, err
		}
		l.Color = palette[i%len(palette)]
		p.Add(l)
		p.Legend.Add("capacity: "+r.Name, l)
	}
	p.Legend.Top = true
	return plotfile.Render(p, 10*vg.Inch, 4.5*vg.Inch)
}

var page = template.Must(template.New("").Funcs(template.FuncMap{"pct": func(f float64) float64 { return 100 * f }}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>ebb simulate: {{.Trace}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:right;border-bottom:1px solid #ddd}td:first-child,th:first-child{text-align:left}</style></head>
<body><h1>ebb simulate: {{.Trace}}</h1>
<p>{{.Model}}</p>
<figure>{{.SVG}}</figure>
<table><tr><th>policy</th><th>instance-hours</th><th>mean utilization</th><th>p50 ms</th><th>p99 ms</th><th>ramp p99 ms</th><th>SLO attainment</th><th>queued</th><th>dropped</th><th>max instances</th><th>activities</th></tr>
{{range .Reports}}<tr><td>{{.Name}}</td><td>{{printf "%.2f" .InstanceHours}}</td><td>{{printf "%.1f%%" (pct .MeanUtilization)}}</td><td>{{printf "%.0f" .P50ms}}</td><td>{{printf "%.0f" .P99ms}}</td><td>{{if .RampP99ms}}{{printf "%.0f" .RampP99ms}}{{else}}–{{end}}</td><td>{{printf "%.3f%%" (pct .SLOAttainment)}}</td><td>{{printf "%.0f" .Queued}}</td><td>{{printf "%.0f" .Dropped}}</td><td>{{.MaxInstances}}</td><td>{{len .Activities}}</td></tr>
{{end}}</table>
{{range .Reports}}<h2>Activities of {{.Name}}</h2><table>{{range .Activities}}<tr><td>{{.Time.Format "2006-01-02 15:04:05"}}</td><td>{{.Description}}</td><td>{{.Cause}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))

// HTML renders the reports with the plot (SVG, inline).
func HTML(trace, model string, reports []Report, svg []byte) ([]byte, error) {
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{"Trace": trace, "Model": model, "Reports": reports, "SVG": plotfile.Inline(svg)})
	return b.Bytes(), err
}
