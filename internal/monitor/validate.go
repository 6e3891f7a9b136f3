package monitor

import (
	"fmt"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
)

// InvalidError is an alarm configuration CloudWatch refuses, in its words;
// Kind says which of its errors it is (the API answers with that error's
// code and status).
type InvalidError struct {
	Kind    InvalidKind
	Message string
}

func (e *InvalidError) Error() string { return e.Message }

// InvalidKind is which of CloudWatch's validation errors an InvalidError is.
type InvalidKind int

const (
	// InvalidValue is InvalidParameterValue.
	InvalidValue InvalidKind = iota
	// Validation is the unmodelled ValidationError.
	Validation
)

func invalid(kind InvalidKind, format string, args ...any) *InvalidError {
	return &InvalidError{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

var thresholdOperators = map[string]bool{
	"GreaterThanOrEqualToThreshold": true, "GreaterThanThreshold": true,
	"LessThanThreshold": true, "LessThanOrEqualToThreshold": true,
}

// check refuses a configuration PutMetricAlarm refuses, with its message;
// an alarm on Queries without a Period takes theirs. The members' presence
// and which of them exclude which are the API's (they are the wire's).
// Now is when expressions are tried, on an empty range, so that a bad one
// is refused rather than failing every evaluation.
func (a *MetricAlarm) check(m metricquery.Store, now time.Time) error {
	if i := strings.IndexFunc(a.AlarmName, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return invalid(InvalidValue, "The value for parameter AlarmName must not contain ASCII control characters (found %q at byte %d).", a.AlarmName[i], i)
	}
	// Which ARNs ebb can deliver to is decided when the action runs, and
	// recorded in the alarm's history, as on AWS; here only the syntax
	// (arn:partition:service:region:account:resource).
	for _, list := range [][]string{a.OKActions, a.AlarmActions, a.InsufficientDataActions} {
		for _, action := range list {
			if p := strings.SplitN(action, ":", 6); len(p) < 6 || p[0] != "arn" || p[1] == "" || p[2] == "" || p[5] == "" {
				return invalid(Validation, "Invalid arn syntax: %s", action)
			}
		}
	}
	if !thresholdOperators[a.ComparisonOperator] {
		return invalid(InvalidValue, "The value %s for parameter ComparisonOperator is only valid for anomaly detection alarms.", a.ComparisonOperator)
	}
	if len(a.Queries) > 0 {
		if err := a.checkQueries(m, now); err != nil {
			return err
		}
	} else if a.ExtendedStatistic != "" {
		if st, err := metrics.ParseStat(a.ExtendedStatistic); err != nil || !st.Percentile() {
			return invalid(InvalidValue, "The value %s for parameter ExtendedStatistic is not supported: ebb evaluates percentiles (p0 to p100).", a.ExtendedStatistic)
		}
	}
	if p := a.Period; !(p == 10 || p == 20 || p == 30 || (p > 0 && p%60 == 0)) {
		return invalid(InvalidValue, "The parameter Period must be 10, 20, 30 or a multiple of 60.")
	}
	limit := 86400
	if a.Period >= 3600 {
		limit = 7 * 86400
	}
	if a.Period*a.EvaluationPeriods > limit {
		return invalid(InvalidValue, "The evaluation period (Period x EvaluationPeriods) must not exceed %d seconds.", limit)
	}
	if a.DatapointsToAlarm > a.EvaluationPeriods {
		return invalid(InvalidValue, "DatapointsToAlarm (%d) must be less than or equal to EvaluationPeriods (%d).", a.DatapointsToAlarm, a.EvaluationPeriods)
	}
	switch a.TreatMissingData {
	case "", "missing", "ignore", "breaching", "notBreaching":
	default:
		return invalid(InvalidValue, "The value %s for parameter TreatMissingData is invalid: use breaching, notBreaching, ignore or missing.", a.TreatMissingData)
	}
	switch a.EvaluateLowSampleCountPercentile {
	case "", "evaluate", "ignore":
	default:
		return invalid(InvalidValue, "The value %s for parameter EvaluateLowSampleCountPercentile is invalid: use evaluate or ignore.", a.EvaluateLowSampleCountPercentile)
	}
	return nil
}

// checkQueries checks a Metrics list: exactly one query returns data, all
// at one period (the alarm's, which they give when it has none), and every
// expression parses.
func (a *MetricAlarm) checkQueries(m metricquery.Store, now time.Time) error {
	returned := 0
	for _, q := range a.Queries {
		if q.ReturnData {
			returned++
		}
		if q.MetricStat != nil && a.Period == 0 {
			a.Period = int(q.MetricStat.Period / time.Second)
		}
		if q.Expression != "" && q.Period != 0 && a.Period == 0 {
			a.Period = int(q.Period / time.Second)
		}
	}
	if returned != 1 {
		return invalid(InvalidValue, "Exactly one element of the metrics list should return data.")
	}
	for _, q := range a.Queries {
		if q.MetricStat != nil && int(q.MetricStat.Period/time.Second) != a.Period {
			return invalid(InvalidValue, "All metrics in the Metrics list of an alarm must use the same period.")
		}
	}
	if _, err := metricquery.Run(m, a.Queries, now, now, now); err != nil {
		return invalid(Validation, "%s", err.Error())
	}
	return nil
}
