package cloudwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/alarm"
	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/paging"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/tagging"
)

// metricAlarm is MetricAlarm on the wire.
type metricAlarm struct {
	AlarmName                          string
	AlarmArn                           string
	AlarmDescription                   string `json:",omitempty"`
	AlarmConfigurationUpdatedTimestamp *awsjson.Time
	ActionsEnabled                     bool
	OKActions                          []string
	AlarmActions                       []string
	InsufficientDataActions            []string
	StateValue                         string
	StateReason                        string
	StateReasonData                    string `json:",omitempty"`
	StateUpdatedTimestamp              *awsjson.Time
	StateTransitionedTimestamp         *awsjson.Time
	MetricName                         string      `json:",omitempty"`
	Namespace                          string      `json:",omitempty"`
	Statistic                          string      `json:",omitempty"`
	ExtendedStatistic                  string      `json:",omitempty"`
	Dimensions                         []dimension `json:",omitempty"`
	Period                             int         `json:",omitempty"`
	Unit                               string      `json:",omitempty"`
	EvaluationPeriods                  int
	DatapointsToAlarm                  int `json:",omitempty"`
	Threshold                          float64
	ComparisonOperator                 string
	TreatMissingData                   string      `json:",omitempty"`
	EvaluateLowSampleCountPercentile   string      `json:",omitempty"`
	Metrics                            []wireQuery `json:",omitempty"`
}

// wireQuery is a MetricDataQuery of DescribeAlarms, in the model's shape:
// members never set are left out, periods are in seconds.
type wireQuery struct {
	Id         string
	MetricStat *wireMetricStat `json:",omitempty"`
	Expression string          `json:",omitempty"`
	Label      string          `json:",omitempty"`
	ReturnData bool
	Period     int `json:",omitempty"`
}

type wireMetricStat struct {
	Metric wireMetric
	Period int
	Stat   string
	Unit   string `json:",omitempty"`
}

type wireMetric struct {
	Namespace  string
	MetricName string
	Dimensions []dimension `json:",omitempty"`
}

func wireQueries(qs []metricquery.Query) []wireQuery {
	var out []wireQuery
	for _, q := range qs {
		w := wireQuery{Id: q.ID, Expression: q.Expression, Label: q.Label, ReturnData: q.ReturnData, Period: int(q.Period / time.Second)}
		if ms := q.MetricStat; ms != nil {
			m := wireMetric{Namespace: ms.Series.Namespace, MetricName: ms.Series.MetricName}
			for _, d := range ms.Series.Dimensions {
				m.Dimensions = append(m.Dimensions, dimension{d.Name, d.Value})
			}
			w.MetricStat = &wireMetricStat{Metric: m, Period: int(ms.Period / time.Second), Stat: ms.Stat, Unit: ms.Unit}
		}
		out = append(out, w)
	}
	return out
}

func (h *Handler) toWire(a monitor.MetricAlarm) metricAlarm {
	w := metricAlarm{
		AlarmName: a.AlarmName, AlarmArn: h.monitor.ARN(a.AlarmName), AlarmDescription: a.AlarmDescription,
		AlarmConfigurationUpdatedTimestamp: awsjson.T(a.AlarmConfigurationUpdatedTimestamp),
		ActionsEnabled:                     a.ActionsEnabled,
		OKActions:                          nonNil(a.OKActions), AlarmActions: nonNil(a.AlarmActions), InsufficientDataActions: nonNil(a.InsufficientDataActions),
		StateValue: string(a.StateValue), StateReason: a.StateReason, StateReasonData: a.StateReasonData,
		StateUpdatedTimestamp: awsjson.T(a.StateUpdatedTimestamp), StateTransitionedTimestamp: awsjson.T(a.StateTransitionedTimestamp),
		MetricName: a.MetricName, Namespace: a.Namespace, Statistic: a.Statistic, ExtendedStatistic: a.ExtendedStatistic,
		Period: a.Period, Unit: a.Unit, EvaluationPeriods: a.EvaluationPeriods, DatapointsToAlarm: a.DatapointsToAlarm,
		Threshold: a.Threshold, ComparisonOperator: a.ComparisonOperator, TreatMissingData: a.TreatMissingData,
		EvaluateLowSampleCountPercentile: a.EvaluateLowSampleCountPercentile, Metrics: wireQueries(a.Queries),
	}
	if len(a.Queries) > 0 {
		w.Period = 0 // the queries carry it; a metric-math alarm has none of its own
	}
	for _, d := range a.Dimensions {
		w.Dimensions = append(w.Dimensions, dimension{d.Name, d.Value})
	}
	return w
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// metricDataQuery is the part of MetricDataQuery alarms and GetMetricData use.
type metricDataQuery struct {
	Id         string
	MetricStat *struct {
		Metric struct {
			Namespace  string
			MetricName string
			Dimensions []dimension
		}
		Period int
		Stat   string
		Unit   string
	}
	Expression string
	Label      string
	ReturnData *bool
	Period     int
}

func (h *Handler) putMetricAlarm(ctx context.Context, body []byte) (any, error) {
	var in struct {
		AlarmName                        string
		AlarmDescription                 string
		ActionsEnabled                   *bool
		OKActions                        []string
		AlarmActions                     []string
		InsufficientDataActions          []string
		MetricName                       string
		Namespace                        string
		Statistic                        string
		ExtendedStatistic                string
		Dimensions                       []dimension
		Period                           int
		Unit                             string
		EvaluationPeriods                *int
		DatapointsToAlarm                int
		Threshold                        *float64
		ComparisonOperator               string
		TreatMissingData                 string
		EvaluateLowSampleCountPercentile string
		Metrics                          []metricDataQuery
		ThresholdMetricId                string
		Tags                             []store.Tag
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	a := monitor.MetricAlarm{
		AlarmName: in.AlarmName, AlarmDescription: in.AlarmDescription, ActionsEnabled: in.ActionsEnabled == nil || *in.ActionsEnabled,
		OKActions: in.OKActions, AlarmActions: in.AlarmActions, InsufficientDataActions: in.InsufficientDataActions,
		MetricName: in.MetricName, Namespace: in.Namespace, Statistic: in.Statistic, ExtendedStatistic: in.ExtendedStatistic,
		Dimensions: toDims(in.Dimensions), Period: in.Period, Unit: in.Unit, DatapointsToAlarm: in.DatapointsToAlarm,
		ComparisonOperator: in.ComparisonOperator, TreatMissingData: in.TreatMissingData,
		EvaluateLowSampleCountPercentile: in.EvaluateLowSampleCountPercentile,
	}
	switch {
	case in.ThresholdMetricId != "":
		return nil, invalidValue("ebb does not support anomaly detection alarms (ThresholdMetricId).")
	case in.EvaluationPeriods == nil:
		return nil, missing("EvaluationPeriods")
	case in.ComparisonOperator == "":
		return nil, missing("ComparisonOperator")
	case in.Threshold == nil:
		return nil, missing("Threshold")
	}
	a.EvaluationPeriods, a.Threshold = *in.EvaluationPeriods, *in.Threshold
	if len(in.Metrics) > 0 {
		if in.MetricName != "" || in.Namespace != "" || in.Statistic != "" || in.ExtendedStatistic != "" || len(in.Dimensions) > 0 || in.Period != 0 {
			return nil, invalidCombination("The parameters Metrics and MetricName, Namespace, Statistic, ExtendedStatistic, Dimensions and Period are mutually exclusive.")
		}
		qs, err := toQueries(in.Metrics)
		if err != nil {
			return nil, err
		}
		a.Queries = qs
	} else {
		switch {
		case in.MetricName == "":
			return nil, missing("MetricName")
		case in.Namespace == "":
			return nil, missing("Namespace")
		case in.Statistic != "" && in.ExtendedStatistic != "":
			return nil, invalidCombination("The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both.")
		case in.Statistic == "" && in.ExtendedStatistic == "":
			return nil, missing("Statistic or ExtendedStatistic")
		case in.Period == 0:
			return nil, missing("Period")
		}
	}
	if err := tagging.Check(in.Tags); err != nil {
		return nil, tagError(err)
	}
	if err := h.monitor.Put(ctx, a); err != nil {
		return nil, alarmError(err)
	}
	if err := tagging.Add(ctx, h.tags, h.monitor.ARN(a.AlarmName), in.Tags); err != nil {
		return nil, tagError(err)
	}
	return struct{}{}, nil
}

// tagError answers a refusal of the tagging rules (tagging.Error) with
// InvalidParameterValue, TagResource's error for them.
func tagError(err error) error {
	var bad *tagging.Error
	if errors.As(err, &bad) {
		return invalidValue("%s", bad.Error())
	}
	return err
}

// alarmError answers a configuration the monitor refused with
// CloudWatch's error for it.
func alarmError(err error) error {
	var bad *monitor.InvalidError
	if !errors.As(err, &bad) {
		return err
	}
	if bad.Kind == monitor.Validation {
		return validationError(bad.Message)
	}
	return invalidValue("%s", bad.Message)
}

// toQueries converts wire MetricDataQueries; ReturnData defaults to true.
func toQueries(qs []metricDataQuery) ([]metricquery.Query, error) {
	out := make([]metricquery.Query, 0, len(qs))
	for _, q := range qs {
		if e := unsupportedExpression(q.Id, q.Expression); e != nil {
			return nil, e
		}
		mq := metricquery.Query{ID: q.Id, Expression: q.Expression, Label: q.Label, ReturnData: q.ReturnData == nil || *q.ReturnData,
			Period: time.Duration(q.Period) * time.Second}
		if ms := q.MetricStat; ms != nil {
			if !validPeriod(ms.Period) {
				return nil, invalidValue("The parameter MetricStat.Period of query %s must be 1, 5, 10, 20, 30 or a multiple of 60.", q.Id)
			}
			mq.MetricStat = &metricquery.MetricStat{
				Series: metrics.Series{Namespace: ms.Metric.Namespace, MetricName: ms.Metric.MetricName, Dimensions: toDims(ms.Metric.Dimensions)},
				Period: time.Duration(ms.Period) * time.Second, Stat: ms.Stat, Unit: ms.Unit,
			}
			if _, err := metrics.ParseStat(ms.Stat); err != nil {
				return nil, invalidValue("The statistic %s of query %s is not supported.", ms.Stat, q.Id)
			}
		}
		out = append(out, mq)
	}
	return out, nil
}

// unsupportedExpression refuses, saying so, the expression languages ebb
// does not implement (metric math is implemented): SEARCH and Metrics
// Insights queries, whose syntax the math parser would only call unexpected.
func unsupportedExpression(id, expr string) error {
	upper := strings.ToUpper(strings.TrimSpace(expr))
	switch {
	case strings.HasPrefix(upper, "SELECT "):
		return validationError(fmt.Sprintf("Error in expression %s: Metrics Insights queries (SELECT ...) are not supported by ebb; use MetricStat queries and metric math.", id))
	case strings.Contains(upper, "SEARCH("):
		return validationError(fmt.Sprintf("Error in expression %s: SEARCH expressions are not supported by ebb; name each metric in a MetricStat query.", id))
	}
	return nil
}

func (h *Handler) describeAlarms(ctx context.Context, body []byte) (any, error) {
	var in struct {
		AlarmNames      []string
		AlarmNamePrefix string
		AlarmTypes      []string
		StateValue      string
		ActionPrefix    string
		MaxRecords      int
		NextToken       string
		// The children of a composite alarm, or the composite alarms an
		// alarm belongs to. ebb has no composite alarms (PutCompositeAlarm
		// is not served), so both lists are empty.
		ChildrenOfAlarmName string
		ParentsOfAlarmName  string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "" {
		return nil, invalidCombination("The parameters AlarmNames and AlarmNamePrefix are mutually exclusive.")
	}
	out := struct {
		MetricAlarms    []metricAlarm
		CompositeAlarms []struct{}
		NextToken       string `json:",omitempty"`
	}{MetricAlarms: []metricAlarm{}, CompositeAlarms: []struct{}{}}
	for name, v := range map[string]string{"ChildrenOfAlarmName": in.ChildrenOfAlarmName, "ParentsOfAlarmName": in.ParentsOfAlarmName} {
		if v == "" {
			continue
		}
		if len(in.AlarmNames) > 0 || in.AlarmNamePrefix != "" || len(in.AlarmTypes) > 0 || in.StateValue != "" || in.ActionPrefix != "" ||
			(in.ChildrenOfAlarmName != "" && in.ParentsOfAlarmName != "") {
			return nil, invalidCombination("If you specify %s, you cannot specify any other parameters in the request except for MaxRecords and NextToken.", name)
		}
		return out, nil
	}
	if len(in.AlarmTypes) > 0 && !contains(in.AlarmTypes, "MetricAlarm") {
		return out, nil // ebb has no composite alarms
	}
	max := in.MaxRecords
	if max == 0 {
		max = 50
	}
	all := h.monitor.Describe(monitor.Filter{Names: in.AlarmNames, NamePrefix: in.AlarmNamePrefix, StateValue: in.StateValue, ActionPrefix: in.ActionPrefix})
	page, next, ok := paging.After(all, func(a monitor.MetricAlarm) string { return a.AlarmName }, in.NextToken, max)
	if !ok {
		return nil, invalidNextToken()
	}
	for _, a := range page {
		out.MetricAlarms = append(out.MetricAlarms, h.toWire(a))
	}
	out.NextToken = next
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

func (h *Handler) describeAlarmsForMetric(ctx context.Context, body []byte) (any, error) {
	var in struct {
		MetricName, Namespace        string
		Statistic, ExtendedStatistic string
		Dimensions                   []dimension
		Period                       int
		Unit                         string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	key := metrics.Series{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: toDims(in.Dimensions)}
	out := struct{ MetricAlarms []metricAlarm }{MetricAlarms: []metricAlarm{}}
	for _, a := range h.monitor.Describe(monitor.Filter{Metric: &key}) {
		if in.Statistic != "" && a.Statistic != in.Statistic || in.ExtendedStatistic != "" && a.ExtendedStatistic != in.ExtendedStatistic ||
			in.Period != 0 && a.Period != in.Period || in.Unit != "" && a.Unit != in.Unit {
			continue
		}
		out.MetricAlarms = append(out.MetricAlarms, h.toWire(a))
	}
	return out, nil
}

func (h *Handler) deleteAlarms(ctx context.Context, body []byte) (any, error) {
	var in struct{ AlarmNames []string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	// Names that do not exist do not stop the others from being deleted,
	// and, as CloudWatch documents, are not reported.
	if _, err := h.monitor.Delete(ctx, in.AlarmNames); err != nil {
		return nil, err
	}
	// Their tags go with them, also those of a name already deleted (a
	// call that failed here is retried: its alarms are gone, their tags
	// not yet).
	for _, n := range in.AlarmNames {
		arn := h.monitor.ARN(n)
		tags, err := h.tags.Tags(ctx, arn)
		if err != nil {
			return nil, err
		}
		keys := make([]string, len(tags))
		for i, t := range tags {
			keys[i] = t.Key
		}
		if len(keys) > 0 {
			if err := h.tags.DeleteTags(ctx, arn, keys); err != nil {
				return nil, err
			}
		}
	}
	return struct{}{}, nil
}

func (h *Handler) setAlarmState(ctx context.Context, body []byte) (any, error) {
	var in struct {
		AlarmName, StateValue, StateReason, StateReasonData string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.StateReasonData != "" && !json.Valid([]byte(in.StateReasonData)) {
		return nil, cwError("InvalidFormat", "InvalidFormat", 400, "The StateReasonData is not valid JSON.")
	}
	err := h.monitor.SetState(ctx, in.AlarmName, alarm.State(in.StateValue), in.StateReason, in.StateReasonData)
	if err == monitor.ErrNotFound {
		return nil, notFound("Alarm %s not found", in.AlarmName)
	}
	return struct{}{}, err
}

func (h *Handler) enableAlarmActions(ctx context.Context, body []byte) (any, error) {
	return h.setActions(ctx, body, true)
}

func (h *Handler) disableAlarmActions(ctx context.Context, body []byte) (any, error) {
	return h.setActions(ctx, body, false)
}

func (h *Handler) setActions(ctx context.Context, body []byte, enabled bool) (any, error) {
	var in struct{ AlarmNames []string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, h.monitor.SetActionsEnabled(ctx, in.AlarmNames, enabled)
}

type historyItem struct {
	AlarmName       string
	AlarmType       string
	Timestamp       *awsjson.Time
	HistoryItemType string
	HistorySummary  string
	HistoryData     string
}

func (h *Handler) describeAlarmHistory(ctx context.Context, body []byte) (any, error) {
	var in struct {
		AlarmName          string
		AlarmTypes         []string
		HistoryItemType    string
		StartDate, EndDate *awsjson.Time
		MaxRecords         int
		NextToken          string
		ScanBy             string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	now := h.clock.Now()
	start, end := now.Add(-monitor.HistoryRetention), now.Add(time.Second)
	if in.StartDate != nil {
		start = time.Time(*in.StartDate)
	}
	if in.EndDate != nil {
		end = time.Time(*in.EndDate)
	}
	out := struct {
		AlarmHistoryItems []historyItem
		NextToken         string `json:",omitempty"`
	}{AlarmHistoryItems: []historyItem{}}
	if len(in.AlarmTypes) > 0 && !contains(in.AlarmTypes, "MetricAlarm") {
		return out, nil
	}
	items, err := h.monitor.History(ctx, in.AlarmName, in.HistoryItemType, start, end)
	if err != nil {
		return nil, err
	}
	if in.ScanBy == "TimestampAscending" {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	max := in.MaxRecords
	if max == 0 {
		max = 100
	}
	page, next, ok := paging.Offset(items, in.NextToken, max)
	if !ok {
		return nil, invalidNextToken()
	}
	for _, it := range page {
		out.AlarmHistoryItems = append(out.AlarmHistoryItems, historyItem{it.Alarm, "MetricAlarm", awsjson.T(it.Timestamp), it.Type, it.Summary, string(it.Data)})
	}
	out.NextToken = next
	return out, nil
}

// Tags of alarms.

func (h *Handler) alarmOf(arn string) (string, error) {
	name, ok := strings.CutPrefix(arn, h.monitor.ARN(""))
	if !ok || len(h.monitor.Describe(monitor.Filter{Names: []string{name}})) == 0 {
		return "", resourceNotFound(arn)
	}
	return name, nil
}

func (h *Handler) tagResource(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceARN string
		Tags        []store.Tag
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, err := h.alarmOf(in.ResourceARN); err != nil {
		return nil, err
	}
	return struct{}{}, tagError(tagging.Add(ctx, h.tags, in.ResourceARN, in.Tags))
}

func (h *Handler) untagResource(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceARN string
		TagKeys     []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, err := h.alarmOf(in.ResourceARN); err != nil {
		return nil, err
	}
	return struct{}{}, h.tags.DeleteTags(ctx, in.ResourceARN, in.TagKeys)
}

func (h *Handler) listTagsForResource(ctx context.Context, body []byte) (any, error) {
	var in struct{ ResourceARN string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, err := h.alarmOf(in.ResourceARN); err != nil {
		return nil, err
	}
	tags, err := h.tags.Tags(ctx, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	return struct{ Tags []store.Tag }{Tags: tags}, nil
}
