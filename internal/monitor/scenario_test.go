package monitor

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/alarm"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/scenario"
)

// TestScenarios runs the alarm scripts in testdata/*.test, in the grammar
// of package scenario:
//
//	alarm NAME key=value ...    create or update an alarm (see package scenario)
//	load NS/NAME START v v ...  one value per period of 1m from START (a
//	                            duration after the scenario's epoch); _ skips
//	advance DURATION            move time forward, ticking the loop every 10 s
//	expect state NAME STATE     the alarm's state now
//	expect reason NAME TEXT     its StateReason contains TEXT
//	expect deliveries N         actions delivered so far
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

func runScenario(t *testing.T, file string) {
	f := newFixture(t, filepath.Join(t.TempDir(), "ebb.db"))
	ctx := context.Background()
	now := t0
	scenario.Run(t, file, map[string]scenario.Command{
		"alarm": func(args []string) error {
			c, err := scenario.ParseAlarm(args)
			if err != nil {
				return err
			}
			return f.m.Put(ctx, MetricAlarm{AlarmName: c.Name, Namespace: c.Namespace, MetricName: c.MetricName, Statistic: c.Statistic,
				ExtendedStatistic: c.ExtendedStatistic, Period: c.Period, EvaluationPeriods: c.EvaluationPeriods, DatapointsToAlarm: c.DatapointsToAlarm,
				Threshold: c.Threshold, ComparisonOperator: c.ComparisonOperator, TreatMissingData: c.TreatMissingData,
				ActionsEnabled: true, AlarmActions: c.Actions})
		},
		"load": func(args []string) error {
			i := strings.LastIndex(args[1], "/")
			ns, name := args[1][:i], args[1][i+1:]
			start, err := time.ParseDuration(args[2])
			if err != nil {
				return err
			}
			for i, v := range args[3:] {
				if v == "_" {
					continue
				}
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return err
				}
				if err := f.ms.Put([]metrics.Point{{Series: metrics.Series{Namespace: ns, MetricName: name}, Timestamp: t0.Add(start + time.Duration(i)*time.Minute), Value: x}}); err != nil {
					return err
				}
			}
			return nil
		},
		"advance": func(args []string) error {
			d, err := time.ParseDuration(args[1])
			if err != nil {
				return err
			}
			for end := now.Add(d); now.Before(end); {
				now = now.Add(Tick)
				f.m.EvaluateAll(ctx, now)
			}
			return nil
		},
		"expect": func(args []string) error {
			switch args[1] {
			case "state":
				if got := f.state(args[2]); got != alarm.State(args[3]) {
					return fmt.Errorf("state %s at %v", got, now.Sub(t0))
				}
			case "reason":
				a := f.m.Describe(Filter{Names: []string{args[2]}})[0]
				if want := strings.Join(args[3:], " "); !strings.Contains(a.StateReason, want) {
					return fmt.Errorf("reason %q", a.StateReason)
				}
			case "deliveries":
				if got := len(f.sink.got); strconv.Itoa(got) != args[2] {
					return fmt.Errorf("%d deliveries: %v", got, f.sink.got)
				}
			default:
				return fmt.Errorf("expect state, reason or deliveries")
			}
			return nil
		},
	})
}
