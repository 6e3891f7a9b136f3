package plotfile

import (
	"bytes"
	"html/template"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Render draws p at width × height as PNG and as SVG.
func Render(p *plot.Plot, width, height vg.Length) (png, svg []byte, err error) {
	var out [2][]byte
	for i, format := range []string{"png", "svg"} {
		w, err := p.WriterTo(width, height, format)
		if err != nil {
			return nil, nil, err
		}
		var b bytes.Buffer
		if _, err := w.WriteTo(&b); err != nil {
			return nil, nil, err
		}
		out[i] = b.Bytes()
	}
	return out[0], out[1], nil
}

// Inline is an SVG file's <svg> element, without the XML prolog before it,
// ready to put in an HTML page.
func Inline(svg []byte) template.HTML {
	if i := bytes.Index(svg, []byte("<svg")); i > 0 {
		svg = svg[i:]
	}
	return template.HTML(svg)
}
