package mathexpr

import (
	"math"
	"testing"
)

var nan = math.NaN()

func env(series map[string][]float64) Env {
	n := 0
	for _, v := range series {
		n = len(v)
	}
	return Env{
		N: n,
		Lookup: func(id string) (Value, bool) {
			v, ok := series[id]
			return Value{Series: []Series{{Label: id, Values: v}}}, ok
		},
		Metrics: func(filter string) []Series {
			if filter == "none" {
				return nil
			}
			var out []Series
			for _, id := range []string{"m1", "m2"} {
				out = append(out, Series{Label: id, Values: series[id]})
			}
			return out
		},
	}
}

func same(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !(a[i] == b[i] || math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

func TestEval(t *testing.T) {
	e := env(map[string][]float64{"m1": {1, 2, nan, 4}, "m2": {10, 20, 30, 40}})
	series := []struct {
		expr string
		want []float64
	}{
		{"m1 + m2", []float64{11, 22, nan, 44}},
		{"m2 / m1 * 2", []float64{20, 20, nan, 20}},
		{"m2 / (m1 - 1)", []float64{nan, 20, nan, 40 / 3.0}},
		{"-m1 + 2 ^ 3", []float64{7, 6, nan, 4}},
		{"SUM([m1, m2])", []float64{11, 22, 30, 44}},
		{"AVG(METRICS())", []float64{5.5, 11, 30, 22}},
		{"MAX([m1, m2 / 10])", []float64{1, 2, 3, 4}},
		{"FILL(m1, 0)", []float64{1, 2, 0, 4}},
		{"FILL(m1, REPEAT)", []float64{1, 2, 2, 4}},
		{"FILL(m1, LINEAR)", []float64{1, 2, 3, 4}},
		{"IF(m2 > 15, m2, 0)", []float64{0, 20, 30, 40}},
		{"IF(m1 >= 2 AND m2 < 40, 1, 0)", []float64{0, 1, nan, 0}},
		{"IF(NOT (m2 > 15), 5)", []float64{5, nan, nan, nan}},
		{"m1 * 100 / m2", []float64{10, 10, nan, 10}},
	}
	for _, tt := range series {
		n, err := Parse(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		v, err := Eval(n, e)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if len(v.Series) != 1 || !same(v.Series[0].Values, tt.want) {
			t.Errorf("%s = %+v, want %v", tt.expr, v, tt.want)
		}
	}
	scalars := map[string]float64{"SUM(m1)": 7, "AVG(m2)": 25, "MAX(m1) * 2": 8, "1 + 2 * 3": 7, "2 ^ 3 ^ 2": 512}
	for expr, want := range scalars {
		n, _ := Parse(expr)
		v, err := Eval(n, e)
		if err != nil || v.Scalar == nil || *v.Scalar != want {
			t.Errorf("%s = %+v, %v; want %v", expr, v, err, want)
		}
	}
	for _, bad := range []string{"m1 +", "(m1", "m3 * 2", "FOO(m1)", "m1 $ 2", "SUM(m1, m2)"} {
		n, err := Parse(bad)
		if err == nil {
			_, err = Eval(n, e)
		}
		if err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"m1 + m2", "METRICS('none') + m1", "IF(METRICS('none'), m1)", "IF(m1 > 1 AND NOT m2, FILL(m1, REPEAT), 0)", "SUM(METRICS(\"x\"))", "[m1, m2] / 2"} {
		f.Add(s)
	}
	e := env(map[string][]float64{"m1": {1, nan}, "m2": {2, 3}})
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		Eval(n, e) // must not panic
	})
}
