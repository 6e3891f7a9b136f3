package monitor

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/alarm"
	"github.com/ebbscale/ebb/internal/metrics"
)

// TestScenarios runs the alarm scripts in testdata/*.test. The language, in
// the spirit of Prometheus's promqltest:
//
//	alarm NAME key=value ...    create or update an alarm: metric=NS/NAME
//	                            stat= period= evaluation-periods=
//	                            datapoints-to-alarm= threshold= op=(> >= < <=)
//	                            treat-missing= action=ARN
//	load NS/NAME START v v ...  one value per period of 1m from START (a
//	                            duration after the scenario's epoch); _ skips
//	advance DURATION            move time forward, ticking the loop every 10 s
//	expect NAME STATE           the alarm's state now
//	expect-reason NAME TEXT     its StateReason contains TEXT
//	expect-deliveries N         actions delivered so far
//
// Lines starting with # are comments.
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.test")
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScenario(t, file) })
	}
}

var ops = map[string]string{">": "GreaterThanThreshold", ">=": "GreaterThanOrEqualToThreshold", "<": "LessThanThreshold", "<=": "LessThanOrEqualToThreshold"}

func runScenario(t *testing.T, file string) {
	f := newFixture(t, filepath.Join(t.TempDir(), "ebb.db"))
	ctx := context.Background()
	now := t0
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	sc := bufio.NewScanner(in)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s:%d: %s: "+format, append([]any{file, line, text}, args...)...)
		}
		fields := strings.Fields(text)
		switch fields[0] {
		case "alarm":
			a := MetricAlarm{AlarmName: fields[1], ActionsEnabled: true, Period: 60, EvaluationPeriods: 1, Statistic: "Average"}
			for _, kv := range fields[2:] {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.Atoi(v)
				switch k {
				case "metric":
					ns, name, _ := strings.Cut(v, "/")
					a.Namespace, a.MetricName = ns, name
				case "stat":
					if strings.HasPrefix(v, "p") {
						a.Statistic, a.ExtendedStatistic = "", v
					} else {
						a.Statistic = v
					}
				case "period":
					a.Period = n
				case "evaluation-periods":
					a.EvaluationPeriods = n
				case "datapoints-to-alarm":
					a.DatapointsToAlarm = n
				case "threshold":
					a.Threshold, _ = strconv.ParseFloat(v, 64)
				case "op":
					a.ComparisonOperator = ops[v]
				case "treat-missing":
					a.TreatMissingData = v
				case "action":
					a.AlarmActions = append(a.AlarmActions, v)
				default:
					fail("unknown key %q", k)
				}
			}
			if err := f.m.Put(ctx, a); err != nil {
				fail("%v", err)
			}
		case "load":
			ns, name, _ := strings.Cut(fields[1], "/")
			start, err := time.ParseDuration(fields[2])
			if err != nil {
				fail("%v", err)
			}
			for i, v := range fields[3:] {
				if v == "_" {
					continue
				}
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					fail("%v", err)
				}
				f.ms.Put([]metrics.Point{{Series: metrics.Series{Namespace: ns, MetricName: name}, Timestamp: t0.Add(start + time.Duration(i)*time.Minute), Value: x}})
			}
		case "advance":
			d, err := time.ParseDuration(fields[1])
			if err != nil {
				fail("%v", err)
			}
			for end := now.Add(d); now.Before(end); {
				now = now.Add(Tick)
				f.m.EvaluateAll(ctx, now)
			}
		case "expect":
			if got := f.state(fields[1]); got != alarm.State(fields[2]) {
				fail("state %s at %v", got, now.Sub(t0))
			}
		case "expect-reason":
			a := f.m.Describe(Filter{Names: []string{fields[1]}})[0]
			if want := strings.Join(fields[2:], " "); !strings.Contains(a.StateReason, want) {
				fail("reason %q", a.StateReason)
			}
		case "expect-deliveries":
			n, _ := strconv.Atoi(fields[1])
			if got := len(f.sink.got); got != n {
				fail("%d deliveries: %v", got, f.sink.got)
			}
		default:
			fail("unknown command")
		}
	}
}
