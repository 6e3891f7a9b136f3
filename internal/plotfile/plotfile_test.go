package plotfile

import (
	"bytes"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func TestRenderAndInline(t *testing.T) {
	p := plot.New()
	l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		t.Fatal(err)
	}
	p.Add(l)
	png, svg, err := Render(p, 4*vg.Inch, 3*vg.Inch)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || !bytes.Contains(svg, []byte("<svg")) {
		t.Fatalf("png %d bytes, svg %d bytes, %v", len(png), len(svg), err)
	}
	if in := string(Inline(svg)); !strings.HasPrefix(in, "<svg") {
		t.Fatalf("inline starts %q", in[:min(20, len(in))])
	}
}
