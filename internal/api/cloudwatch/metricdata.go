package cloudwatch

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/paging"
)

type metricDataResult struct {
	Id         string
	Label      string
	Timestamps []*awsjson.Time
	Values     []awsjson.Double
	StatusCode string
	Messages   []struct{} `json:",omitempty"`
}

// maxMetricDataPoints is GetMetricData's default MaxDatapoints.
const maxMetricDataPoints = 100800

// maxQueries is how many queries one GetMetricData may carry.
const maxQueries = 500

func (h *Handler) getMetricData(ctx context.Context, body []byte) (any, error) {
	var in struct {
		MetricDataQueries  []metricDataQuery
		StartTime, EndTime awsjson.Time
		NextToken          string
		ScanBy             string
		MaxDatapoints      int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	start, end := time.Time(in.StartTime), time.Time(in.EndTime)
	switch {
	case start.Equal(end):
		return nil, validationError("The parameter StartTime must not equal parameter EndTime.")
	case end.Before(start):
		return nil, validationError("The parameter StartTime must be less than the parameter EndTime.")
	}
	if len(in.MetricDataQueries) > maxQueries {
		return nil, validationError(fmt.Sprintf("The collection MetricDataQueries must not have a size greater than %d.", maxQueries))
	}
	queries, err := toQueries(in.MetricDataQueries)
	if err != nil {
		return nil, err
	}
	res, err := metricquery.Run(h.metrics, queries, start, end, h.clock.Now())
	if err != nil {
		return nil, validationError(err.Error())
	}
	max := in.MaxDatapoints
	if max == 0 {
		max = maxMetricDataPoints
	}
	offset := 0
	if in.NextToken != "" {
		var ok bool
		if offset, ok = paging.ParseOffset(in.NextToken); !ok {
			return nil, invalidNextToken()
		}
	}
	out := struct {
		MetricDataResults []metricDataResult
		Messages          []struct{}
		NextToken         string `json:",omitempty"`
	}{MetricDataResults: []metricDataResult{}, Messages: []struct{}{}}
	// Datapoints are paged across all results: offset counts those already
	// returned, in the order the results and their points are listed.
	seen, budget := 0, max
	for _, r := range res {
		if !r.ReturnData {
			continue
		}
		type point struct {
			t time.Time
			v float64
		}
		var pts []point
		for i, v := range r.Values {
			if !math.IsNaN(v) {
				pts = append(pts, point{r.Timestamps[i], v})
			}
		}
		if in.ScanBy != "TimestampAscending" {
			sort.Slice(pts, func(i, j int) bool { return pts[i].t.After(pts[j].t) })
		}
		dr := metricDataResult{Id: r.ID, Label: r.Label, Timestamps: []*awsjson.Time{}, Values: []awsjson.Double{}, StatusCode: "Complete"}
		for _, p := range pts {
			seen++
			if seen <= offset {
				continue
			}
			if budget == 0 {
				dr.StatusCode = "PartialData"
				out.NextToken = paging.OffsetToken(seen - 1)
				break
			}
			budget--
			dr.Timestamps = append(dr.Timestamps, awsjson.T(p.t))
			dr.Values = append(dr.Values, awsjson.Double(p.v))
		}
		out.MetricDataResults = append(out.MetricDataResults, dr)
		if out.NextToken != "" {
			break
		}
	}
	return out, nil
}
