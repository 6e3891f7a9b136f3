package mathexpr

import (
	"fmt"
	"math"
	"strings"
)

// Series is a metric on the shared grid of an evaluation; NaN is missing.
type Series struct {
	Label  string
	Values []float64
}

// Value is what an expression yields: a scalar, one series or several.
type Value struct {
	Scalar *float64
	Series []Series
}

// Env resolves query ids and METRICS() for an evaluation on a grid of n
// timestamps.
type Env struct {
	N       int
	Lookup  func(id string) (Value, bool)
	Metrics func(filter string) []Series
}

// Eval evaluates a parsed expression.
func Eval(n node, env Env) (Value, error) {
	switch x := n.(type) {
	case numNode:
		f := float64(x)
		return Value{Scalar: &f}, nil
	case strNode:
		return Value{}, fmt.Errorf("unexpected string %q", string(x))
	case idNode:
		v, ok := env.Lookup(string(x))
		if !ok {
			return Value{}, fmt.Errorf("unknown id %q", string(x))
		}
		return v, nil
	case arrayNode:
		var out Value
		for _, item := range x {
			v, err := Eval(item, env)
			if err != nil {
				return Value{}, err
			}
			if v.Scalar != nil {
				return Value{}, fmt.Errorf("arrays hold time series, not numbers")
			}
			out.Series = append(out.Series, v.Series...)
		}
		return out, nil
	case unary:
		v, err := Eval(x.x, env)
		if err != nil {
			return Value{}, err
		}
		if x.op == "-" {
			return mapValue(v, func(a float64) float64 { return -a }), nil
		}
		return mapValue(v, func(a float64) float64 { return bool2f(!(a != 0)) }), nil
	case binary:
		l, err := Eval(x.l, env)
		if err != nil {
			return Value{}, err
		}
		r, err := Eval(x.r, env)
		if err != nil {
			return Value{}, err
		}
		return combine(l, r, env.N, binaryFunc(x.op))
	case callNode:
		return call(x, env)
	}
	return Value{}, fmt.Errorf("cannot evaluate %T", n)
}

func bool2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func binaryFunc(op string) func(a, b float64) float64 {
	switch op {
	case "+":
		return func(a, b float64) float64 { return a + b }
	case "-":
		return func(a, b float64) float64 { return a - b }
	case "*":
		return func(a, b float64) float64 { return a * b }
	case "/":
		return func(a, b float64) float64 {
			if b == 0 {
				return math.NaN() // CloudWatch drops datapoints divided by zero
			}
			return a / b
		}
	case "^":
		return math.Pow
	case "<":
		return func(a, b float64) float64 { return bool2f(a < b) }
	case "<=":
		return func(a, b float64) float64 { return bool2f(a <= b) }
	case ">":
		return func(a, b float64) float64 { return bool2f(a > b) }
	case ">=":
		return func(a, b float64) float64 { return bool2f(a >= b) }
	case "==":
		return func(a, b float64) float64 { return bool2f(a == b) }
	case "!=":
		return func(a, b float64) float64 { return bool2f(a != b) }
	case "AND", "&&":
		return func(a, b float64) float64 { return bool2f(a != 0 && b != 0) }
	case "OR", "||":
		return func(a, b float64) float64 { return bool2f(a != 0 || b != 0) }
	}
	return func(a, b float64) float64 { return math.NaN() }
}

func mapValue(v Value, f func(float64) float64) Value {
	if v.Scalar != nil {
		r := f(*v.Scalar)
		return Value{Scalar: &r}
	}
	out := Value{}
	for _, s := range v.Series {
		vals := make([]float64, len(s.Values))
		for i, x := range s.Values {
			if math.IsNaN(x) {
				vals[i] = x
			} else {
				vals[i] = f(x)
			}
		}
		out.Series = append(out.Series, Series{Label: s.Label, Values: vals})
	}
	return out
}

// combine applies f element-wise, broadcasting scalars and single series;
// a missing operand gives a missing result.
func combine(l, r Value, n int, f func(a, b float64) float64) (Value, error) {
	if empty(l) || empty(r) {
		return Value{}, nil // METRICS() that matched nothing
	}
	if l.Scalar != nil && r.Scalar != nil {
		v := f(*l.Scalar, *r.Scalar)
		return Value{Scalar: &v}, nil
	}
	at := func(v Value, k, i int) float64 {
		if v.Scalar != nil {
			return *v.Scalar
		}
		if len(v.Series) == 1 {
			k = 0
		}
		return v.Series[k].Values[i]
	}
	count := max(len(l.Series), len(r.Series))
	if len(l.Series) > 1 && len(r.Series) > 1 && len(l.Series) != len(r.Series) {
		return Value{}, fmt.Errorf("arrays of %d and %d time series cannot be combined", len(l.Series), len(r.Series))
	}
	var out Value
	for k := 0; k < count; k++ {
		vals := make([]float64, n)
		for i := range vals {
			a, b := at(l, k, i), at(r, k, i)
			if math.IsNaN(a) || math.IsNaN(b) {
				vals[i] = math.NaN()
			} else {
				vals[i] = f(a, b)
			}
		}
		label := ""
		if l.Scalar == nil {
			label = l.Series[min(k, len(l.Series)-1)].Label
		} else {
			label = r.Series[min(k, len(r.Series)-1)].Label
		}
		out.Series = append(out.Series, Series{Label: label, Values: vals})
	}
	return out, nil
}

func call(c callNode, env Env) (Value, error) {
	args := make([]Value, len(c.args))
	if c.fn == "METRICS" {
		filter := ""
		if len(c.args) == 1 {
			s, ok := c.args[0].(strNode)
			if !ok {
				return Value{}, fmt.Errorf("METRICS takes a string")
			}
			filter = string(s)
		}
		return Value{Series: env.Metrics(filter)}, nil
	}
	for i, a := range c.args {
		if c.fn == "FILL" && i == 1 {
			if id, ok := a.(idNode); ok && (strings.EqualFold(string(id), "REPEAT") || strings.EqualFold(string(id), "LINEAR")) {
				continue
			}
		}
		v, err := Eval(a, env)
		if err != nil {
			return Value{}, err
		}
		args[i] = v
	}
	want := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %d argument(s), got %d", c.fn, n, len(args))
		}
		return nil
	}
	switch c.fn {
	case "SUM", "AVG", "MIN", "MAX":
		if err := want(1); err != nil {
			return Value{}, err
		}
		return reduce(c.fn, args[0], env.N)
	case "ABS":
		if err := want(1); err != nil {
			return Value{}, err
		}
		return mapValue(args[0], math.Abs), nil
	case "CEIL":
		if err := want(1); err != nil {
			return Value{}, err
		}
		return mapValue(args[0], math.Ceil), nil
	case "FLOOR":
		if err := want(1); err != nil {
			return Value{}, err
		}
		return mapValue(args[0], math.Floor), nil
	case "IF":
		if len(args) != 2 && len(args) != 3 {
			return Value{}, fmt.Errorf("IF takes 2 or 3 arguments")
		}
		if len(args) == 2 {
			nan := math.NaN()
			args = append(args, Value{Scalar: &nan})
		}
		cond, err := combine(args[0], args[1], env.N, func(c, t float64) float64 { return c })
		if err != nil {
			return Value{}, err
		}
		return ifThenElse(args[0], args[1], args[2], env.N, cond)
	case "FILL":
		if len(c.args) != 2 {
			return Value{}, fmt.Errorf("FILL takes 2 arguments")
		}
		mode := ""
		if id, ok := c.args[1].(idNode); ok {
			mode = strings.ToUpper(string(id))
		}
		return fill(args[0], args[1], mode), nil
	}
	return Value{}, fmt.Errorf("unsupported function %s", c.fn)
}

// reduce implements SUM/AVG/MIN/MAX: across an array of series it yields a
// series; over one series it yields a scalar of all its datapoints.
func reduce(fn string, v Value, n int) (Value, error) {
	agg := func(xs []float64) float64 {
		count, sum := 0.0, 0.0
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range xs {
			if math.IsNaN(x) {
				continue
			}
			count++
			sum += x
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		if count == 0 {
			return math.NaN()
		}
		switch fn {
		case "SUM":
			return sum
		case "AVG":
			return sum / count
		case "MIN":
			return lo
		}
		return hi
	}
	if v.Scalar != nil {
		return v, nil
	}
	if len(v.Series) == 1 {
		s := agg(v.Series[0].Values)
		return Value{Scalar: &s}, nil
	}
	vals := make([]float64, n)
	col := make([]float64, len(v.Series))
	for i := range vals {
		for k, s := range v.Series {
			col[k] = s.Values[i]
		}
		vals[i] = agg(col)
	}
	return Value{Series: []Series{{Values: vals}}}, nil
}

func empty(v Value) bool { return v.Scalar == nil && len(v.Series) == 0 }

func ifThenElse(cond, a, b Value, n int, shape Value) (Value, error) {
	if empty(cond) || empty(a) || empty(b) {
		return Value{}, nil
	}
	at := func(v Value, k, i int) float64 {
		if v.Scalar != nil {
			return *v.Scalar
		}
		if len(v.Series) == 1 {
			k = 0
		}
		return v.Series[k].Values[i]
	}
	if cond.Scalar != nil && a.Scalar != nil && b.Scalar != nil {
		r := *b.Scalar
		if *cond.Scalar != 0 {
			r = *a.Scalar
		}
		return Value{Scalar: &r}, nil
	}
	count := max(len(cond.Series), len(a.Series), len(b.Series))
	var out Value
	for k := 0; k < count; k++ {
		vals := make([]float64, n)
		for i := range vals {
			c := at(cond, k, i)
			switch {
			case math.IsNaN(c):
				vals[i] = math.NaN()
			case c != 0:
				vals[i] = at(a, k, i)
			default:
				vals[i] = at(b, k, i)
			}
		}
		label := ""
		if len(cond.Series) > 0 {
			label = cond.Series[min(k, len(cond.Series)-1)].Label
		}
		out.Series = append(out.Series, Series{Label: label, Values: vals})
	}
	return out, nil
}

// fill replaces missing datapoints with a value, the previous real value
// (REPEAT) or a straight line between real values (LINEAR).
func fill(v, with Value, mode string) Value {
	var out Value
	for _, s := range v.Series {
		vals := append([]float64(nil), s.Values...)
		for i := range vals {
			if !math.IsNaN(vals[i]) {
				continue
			}
			switch mode {
			case "REPEAT":
				if i > 0 {
					vals[i] = vals[i-1]
				}
			case "LINEAR":
				j := i - 1
				k := i + 1
				for k < len(vals) && math.IsNaN(s.Values[k]) {
					k++
				}
				if j >= 0 && k < len(vals) && !math.IsNaN(vals[j]) {
					vals[i] = vals[j] + (s.Values[k]-vals[j])/float64(k-j)
				}
			default:
				switch {
				case with.Scalar != nil:
					vals[i] = *with.Scalar
				case len(with.Series) > 0:
					vals[i] = with.Series[0].Values[i]
				}
			}
		}
		out.Series = append(out.Series, Series{Label: s.Label, Values: vals})
	}
	if v.Scalar != nil {
		return v
	}
	return out
}
