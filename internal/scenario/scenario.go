package scenario

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// Command runs one command (its name is args[0]).
type Command func(args []string) error

// Run runs the script in file with cmds, failing t at the first command
// that fails or that cmds does not know.
func Run(t testing.TB, file string, cmds map[string]Command) {
	t.Helper()
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	lines := bufio.NewScanner(in)
	for n := 1; lines.Scan(); n++ {
		text := strings.TrimSpace(lines.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		args := strings.Fields(text)
		cmd, ok := cmds[args[0]]
		if !ok {
			t.Fatalf("%s:%d: %s: unknown command", file, n, text)
		}
		if err := cmd(args); err != nil {
			t.Fatalf("%s:%d: %s: %v", file, n, text, err)
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
}

// Options reads key=value arguments; a bare word is a key with no value.
// Keys not in known are refused.
func Options(args []string, known ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		if len(known) > 0 && !contains(known, k) {
			return nil, fmt.Errorf("unknown option %q (want one of %s)", k, strings.Join(known, ", "))
		}
		out[k] = v
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Alarm is an alarm command's configuration, in PutMetricAlarm's terms.
type Alarm struct {
	Name, Namespace, MetricName string
	// Statistic or ExtendedStatistic (a percentile, pNN).
	Statistic, ExtendedStatistic string
	ComparisonOperator           string
	Threshold                    float64
	Period, EvaluationPeriods    int
	DatapointsToAlarm            int
	TreatMissingData             string
	Actions                      []string
}

// ParseAlarm reads `alarm NAME key=value...` (see the package doc); the
// period defaults to 60 s, the evaluation periods to 1, the statistic to
// Average.
func ParseAlarm(args []string) (Alarm, error) {
	if len(args) < 2 {
		return Alarm{}, fmt.Errorf("want alarm NAME key=value...")
	}
	a := Alarm{Name: args[1], Period: 60, EvaluationPeriods: 1, Statistic: "Average"}
	for _, kv := range args[2:] {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "metric":
			i := strings.LastIndex(v, "/")
			if i < 0 {
				return a, fmt.Errorf("metric=%s: want NAMESPACE/NAME", v)
			}
			a.Namespace, a.MetricName = v[:i], v[i+1:]
		case "stat":
			if strings.HasPrefix(v, "p") {
				a.Statistic, a.ExtendedStatistic = "", v
			} else {
				a.Statistic = v
			}
		case "op":
			var ok bool
			if a.ComparisonOperator, ok = operators[v]; !ok {
				return a, fmt.Errorf("op=%s: want >, >=, < or <=", v)
			}
		case "threshold":
			_, err = fmt.Sscan(v, &a.Threshold)
		case "period":
			_, err = fmt.Sscan(v, &a.Period)
		case "evaluation-periods":
			_, err = fmt.Sscan(v, &a.EvaluationPeriods)
		case "datapoints-to-alarm":
			_, err = fmt.Sscan(v, &a.DatapointsToAlarm)
		case "treat-missing":
			a.TreatMissingData = v
		case "action":
			a.Actions = append(a.Actions, v)
		default:
			return a, fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return a, fmt.Errorf("%s: %v", kv, err)
		}
	}
	return a, nil
}

var operators = map[string]string{">": "GreaterThanThreshold", ">=": "GreaterThanOrEqualToThreshold", "<": "LessThanThreshold", "<=": "LessThanOrEqualToThreshold"}
