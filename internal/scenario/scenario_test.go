package scenario

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func TestParseAlarm(t *testing.T) {
	a, err := ParseAlarm([]string{"alarm", "busy", "metric=AWS/SageMaker/Invocations", "stat=p99", "op=>=", "threshold=2.5",
		"evaluation-periods=3", "datapoints-to-alarm=2", "treat-missing=breaching", "action=arn:a", "action=arn:b"})
	if err != nil {
		t.Fatal(err)
	}
	want := Alarm{Name: "busy", Namespace: "AWS/SageMaker", MetricName: "Invocations", ExtendedStatistic: "p99", ComparisonOperator: "GreaterThanOrEqualToThreshold",
		Threshold: 2.5, Period: 60, EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: "breaching"}
	if !slices.Equal(a.Actions, []string{"arn:a", "arn:b"}) {
		t.Fatalf("actions %v", a.Actions)
	}
	if a.Actions = nil; !reflect.DeepEqual(a, want) {
		t.Fatalf("%+v", a)
	}
	for _, bad := range [][]string{{"alarm"}, {"alarm", "a", "op=!="}, {"alarm", "a", "threshold=x"}, {"alarm", "a", "metric=CPU"}, {"alarm", "a", "colour=red"}} {
		if _, err := ParseAlarm(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestRun: comments and blank lines are skipped, each command gets its
// arguments, in order.
func TestRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a.test")
	os.WriteFile(file, []byte("# a comment\n\nset x 1\n  advance 1m \n"), 0o644)
	var got [][]string
	record := func(args []string) error { got = append(got, args); return nil }
	Run(t, file, map[string]Command{"set": record, "advance": record})
	if len(got) != 2 || !slices.Equal(got[0], []string{"set", "x", "1"}) || !slices.Equal(got[1], []string{"advance", "1m"}) {
		t.Fatalf("%q", got)
	}
	if _, err := Options([]string{"min=1", "tz"}, "min", "max"); err == nil {
		t.Fatal("an unknown option was accepted")
	}
	if o, err := Options([]string{"min=1", "disable-scale-in"}); err != nil || o["min"] != "1" || o["disable-scale-in"] != "" {
		t.Fatalf("%v %v", o, err)
	}
}
