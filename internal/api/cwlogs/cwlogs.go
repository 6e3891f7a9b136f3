// Package cwlogs serves the read side of CloudWatch Logs (awsJson1_1,
// X-Amz-Target: Logs_20140328.<Op>) over instance logs (internal/logs):
// DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents,
// what `aws logs tail --follow`, boto3 and the SDKs read logs with.
//
// Request validation against the model answers InvalidParameterException,
// as CloudWatch Logs does (its messages are Coral's "1 validation error
// detected: ..." under that code, for example grafana/grafana#79155).
package cwlogs

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/awsmodel"
	"github.com/ebbscale/ebb/internal/arn"
	"github.com/ebbscale/ebb/internal/logs"
)

// Wire constants.
const (
	ContentType  = "application/x-amz-json-1.1"
	TargetPrefix = "Logs_20140328."
)

// Limits of one answer, as CloudWatch Logs documents them: at most 10,000
// events and 1 MB, an event counting its message and 26 bytes.
const (
	maxEvents        = 10000
	maxResponseBytes = 1 << 20
	eventOverhead    = 26
	defaultDescribe  = 50
)

// Handler serves CloudWatch Logs.
type Handler struct {
	awsjson.Service
	logs              *logs.Store
	region, accountID string
}

var errorTable = awserr.Table{
	Rules: []awserr.Rule{
		{Kind: awsmodel.ErrSerialization, Code: "SerializationException", Status: http.StatusBadRequest},
		{Kind: awsmodel.ErrValidation, Code: "InvalidParameterException", Status: http.StatusBadRequest},
	},
	InternalCode: "ServiceUnavailableException",
}

// New returns the handler.
func New(store *logs.Store, region, accountID string) *Handler {
	h := &Handler{logs: store, region: region, accountID: accountID}
	h.Service = awsjson.Service{ContentType: ContentType, TargetPrefix: TargetPrefix, Model: awsmodel.Logs, Errors: errorTable,
		Ops: map[string]awsjson.Op{
			"DescribeLogGroups":  h.describeGroups,
			"DescribeLogStreams": h.describeStreams,
			"GetLogEvents":       h.getEvents,
			"FilterLogEvents":    h.filterEvents,
		}}
	return h
}

func invalid(format string, args ...any) error {
	return awserr.New("InvalidParameterException", http.StatusBadRequest, format, args...)
}

var (
	errNoGroup  = awserr.New("ResourceNotFoundException", http.StatusBadRequest, "The specified log group does not exist.")
	errNoStream = awserr.New("ResourceNotFoundException", http.StatusBadRequest, "The specified log stream does not exist.")
	errToken    = invalid("The specified nextToken is invalid.")
)

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return awserr.Serialization(err.Error())
	}
	return nil
}

// groupARN is a group's ARN; CloudWatch Logs' arn member ends in ":*",
// logGroupArn does not.
func (h *Handler) groupARN(name string) string {
	return arn.New("logs", h.region, h.accountID, "log-group:"+name)
}

// streams lists a group's streams; ResourceNotFoundException if there is
// no such group.
func (h *Handler) streams(group string) ([]logs.Stream, error) {
	streams, err := h.logs.Streams(group)
	if errors.Is(err, logs.ErrNotFound) {
		return nil, errNoGroup
	}
	return streams, err
}

// groupName reads a group given by name or by identifier (its name or its
// ARN, with or without ":*"), exactly one of them.
func (h *Handler) groupName(name, identifier string) (string, error) {
	switch {
	case name != "" && identifier != "":
		return "", invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != "":
		return name, nil
	case identifier == "":
		return "", invalid("Either logGroupName or logGroupIdentifier must be specified.")
	}
	if !strings.HasPrefix(identifier, "arn:") {
		return identifier, nil
	}
	prefix := h.groupARN("")
	rest, ok := strings.CutPrefix(identifier, prefix)
	if !ok {
		return "", errNoGroup // another account's or region's group
	}
	return strings.TrimSuffix(rest, ":*"), nil
}

// token is an opaque paging token holding a position.
func token(v any) *string {
	b, _ := json.Marshal(v)
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

func readToken(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, v) != nil {
		return errToken
	}
	return nil
}

type logGroup struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   int    `json:"retentionInDays"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
	LogGroupArn       string `json:"logGroupArn"`
}

// describeGroups lists groups by name. includeLinkedAccounts is honoured
// trivially (ebb has no linked accounts); accountIdentifiers, which name
// linked accounts, are refused.
func (h *Handler) describeGroups(_ context.Context, body []byte) (any, error) {
	var in struct {
		AccountIdentifiers  []string `json:"accountIdentifiers"`
		LogGroupNamePrefix  string   `json:"logGroupNamePrefix"`
		LogGroupNamePattern *string  `json:"logGroupNamePattern"`
		LogGroupIdentifiers []string `json:"logGroupIdentifiers"`
		LogGroupClass       string   `json:"logGroupClass"`
		Limit               int      `json:"limit"`
		NextToken           string   `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.AccountIdentifiers) > 0 {
		return nil, invalid("accountIdentifiers is not supported by ebb: it has no linked source accounts.")
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != nil {
		return nil, invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	if len(in.LogGroupIdentifiers) > 0 && (in.LogGroupNamePrefix != "" || in.LogGroupNamePattern != nil) {
		return nil, invalid("logGroupIdentifiers cannot be specified with logGroupNamePrefix or logGroupNamePattern.")
	}
	var names []string
	for _, id := range in.LogGroupIdentifiers {
		name, err := h.groupName("", id)
		if err == nil {
			names = append(names, name)
		}
	}
	var after string
	if in.NextToken != "" {
		if err := readToken(in.NextToken, &after); err != nil {
			return nil, err
		}
	}
	limit := orDefault(in.Limit, defaultDescribe)
	out := struct {
		LogGroups []logGroup `json:"logGroups"`
		NextToken *string    `json:"nextToken,omitempty"`
	}{LogGroups: []logGroup{}}
	for _, g := range h.logs.Groups() {
		switch {
		case g.Name <= after && in.NextToken != "",
			!strings.HasPrefix(g.Name, in.LogGroupNamePrefix),
			in.LogGroupNamePattern != nil && !strings.Contains(g.Name, *in.LogGroupNamePattern),
			len(in.LogGroupIdentifiers) > 0 && !slices.Contains(names, g.Name),
			in.LogGroupClass != "" && in.LogGroupClass != "STANDARD": // every ebb group is STANDARD
			continue
		}
		if len(out.LogGroups) == limit {
			out.NextToken = token(out.LogGroups[limit-1].LogGroupName)
			break
		}
		a := h.groupARN(g.Name)
		out.LogGroups = append(out.LogGroups, logGroup{LogGroupName: g.Name, CreationTime: g.Created.UnixMilli(), RetentionInDays: h.logs.RetentionDays(),
			Arn: a + ":*", StoredBytes: g.StoredBytes, LogGroupClass: "STANDARD", LogGroupArn: a})
	}
	return out, nil
}

// orDefault returns v, or def where v is unset.
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

type logStream struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

func ms(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

// describeStreams lists a group's streams by name, or by the time of their
// last event (streams without events first, as the oldest).
func (h *Handler) describeStreams(_ context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName        string `json:"logGroupName"`
		LogGroupIdentifier  string `json:"logGroupIdentifier"`
		LogStreamNamePrefix string `json:"logStreamNamePrefix"`
		OrderBy             string `json:"orderBy"`
		Descending          bool   `json:"descending"`
		Limit               int    `json:"limit"`
		NextToken           string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	group, err := h.groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.OrderBy == "LastEventTime" && in.LogStreamNamePrefix != "" {
		return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	streams, err := h.streams(group)
	if err != nil {
		return nil, err
	}
	streams = slices.DeleteFunc(streams, func(s logs.Stream) bool { return !strings.HasPrefix(s.Name, in.LogStreamNamePrefix) })
	if in.OrderBy == "LastEventTime" {
		slices.SortStableFunc(streams, func(a, b logs.Stream) int { return a.Last.Compare(b.Last) })
	}
	if in.Descending {
		slices.Reverse(streams)
	}
	start := 0
	if in.NextToken != "" {
		if err := readToken(in.NextToken, &start); err != nil || start < 0 || start > len(streams) {
			return nil, errToken
		}
	}
	end := min(start+orDefault(in.Limit, defaultDescribe), len(streams))
	out := struct {
		LogStreams []logStream `json:"logStreams"`
		NextToken  *string     `json:"nextToken,omitempty"`
	}{LogStreams: []logStream{}}
	for _, s := range streams[start:end] {
		out.LogStreams = append(out.LogStreams, logStream{LogStreamName: s.Name, CreationTime: s.Created.UnixMilli(),
			FirstEventTimestamp: ms(s.First), LastEventTimestamp: ms(s.Last), LastIngestionTime: ms(s.Last),
			Arn: h.groupARN(group) + ":log-stream:" + s.Name, StoredBytes: s.StoredBytes})
	}
	if end < len(streams) {
		out.NextToken = token(end)
	}
	return out, nil
}

type outputEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

// timeRange is the events' time window in milliseconds since the epoch.
type timeRange struct {
	start, end *int64
	// endIncluded: FilterLogEvents returns events at endTime, GetLogEvents
	// does not (as their API references say).
	endIncluded bool
}

func (r timeRange) holds(t time.Time) bool {
	v := t.UnixMilli()
	switch {
	case r.start != nil && v < *r.start:
		return false
	case r.end != nil && (v > *r.end || v == *r.end && !r.endIncluded):
		return false
	}
	return true
}

// getEvents pages through one stream. Tokens are f/<seq> (the page after:
// events from seq on) and b/<seq> (the page before: events before seq);
// at the end of the stream the token passed in comes back, which is how
// clients know to stop.
func (h *Handler) getEvents(_ context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName       string `json:"logGroupName"`
		LogGroupIdentifier string `json:"logGroupIdentifier"`
		LogStreamName      string `json:"logStreamName"`
		StartTime          *int64 `json:"startTime"`
		EndTime            *int64 `json:"endTime"`
		NextToken          string `json:"nextToken"`
		Limit              int    `json:"limit"`
		StartFromHead      *bool  `json:"startFromHead"`
		// Unmask needs no handling: ebb has no data protection policies,
		// so nothing is masked.
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	group, err := h.groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	window := timeRange{start: in.StartTime, end: in.EndTime}
	forward := in.StartFromHead != nil && *in.StartFromHead
	var from int64 // f/: the first seq of the page; b/: the seq the page ends before
	if in.NextToken != "" {
		dir, n, ok := strings.Cut(in.NextToken, "/")
		v, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || v < 0 || (dir != "f" && dir != "b") {
			return nil, errToken
		}
		forward, from = dir == "f", v
	}
	var page []logs.Event
	next := int64(0) // the seq after the stream's last event
	err = h.logs.Events(group, in.LogStreamName, func(ev logs.Event) bool {
		next = ev.Seq + 1
		if !window.holds(ev.Time) {
			return true
		}
		switch {
		case in.NextToken != "" && forward && ev.Seq < from:
		case in.NextToken != "" && !forward && ev.Seq >= from:
		default:
			page = append(page, ev)
		}
		return true
	})
	if errors.Is(err, logs.ErrNotFound) {
		if _, gerr := h.streams(group); gerr != nil {
			return nil, gerr
		}
		return nil, errNoStream
	}
	if err != nil {
		return nil, err
	}
	limit := orDefault(in.Limit, maxEvents)
	if forward {
		page = page[:fit(page, limit, false)]
	} else {
		page = page[len(page)-fit(page, limit, true):]
	}
	fwd, back := next, next
	if in.NextToken != "" {
		fwd, back = from, from
	}
	if len(page) > 0 {
		fwd, back = page[len(page)-1].Seq+1, page[0].Seq
	}
	out := struct {
		Events            []outputEvent `json:"events"`
		NextForwardToken  string        `json:"nextForwardToken"`
		NextBackwardToken string        `json:"nextBackwardToken"`
	}{Events: make([]outputEvent, 0, len(page)), NextForwardToken: "f/" + strconv.FormatInt(fwd, 10), NextBackwardToken: "b/" + strconv.FormatInt(back, 10)}
	for _, ev := range page {
		t := ev.Time.UnixMilli()
		out.Events = append(out.Events, outputEvent{Timestamp: t, Message: ev.Message, IngestionTime: t})
	}
	return out, nil
}

// fit is how many events fit in one answer, counted from the first, or
// from the last with fromEnd.
func fit(evs []logs.Event, limit int, fromEnd bool) int {
	size := 0
	for i := range evs {
		ev := evs[i]
		if fromEnd {
			ev = evs[len(evs)-1-i]
		}
		size += len(ev.Message) + eventOverhead
		if i == limit || size > maxResponseBytes {
			return i
		}
	}
	return len(evs)
}

type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

// position orders the events of a group: by time, then stream, then seq.
// FilterLogEvents' token is the position of the last event returned.
type position struct {
	T int64  `json:"t"`
	S string `json:"s"`
	Q int64  `json:"q"`
}

func (p position) compare(o position) int {
	return cmp.Or(cmp.Compare(p.T, o.T), strings.Compare(p.S, o.S), cmp.Compare(p.Q, o.Q))
}

// eventID is an event's ID, unique and stable, in digits as AWS's are:
// its time, a hash of its stream and its sequence number.
func eventID(p position) string {
	h := fnv.New32a()
	h.Write([]byte(p.S))
	return fmt.Sprintf("%d%010d%012d", p.T, h.Sum32(), p.Q)
}

// filterEvents searches a group's streams, interleaved by time (the
// deprecated interleaved member is always true, as it is on AWS since
// 2019). searchedLogStreams, deprecated too, is not returned.
func (h *Handler) filterEvents(_ context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName        string   `json:"logGroupName"`
		LogGroupIdentifier  string   `json:"logGroupIdentifier"`
		LogStreamNames      []string `json:"logStreamNames"`
		LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
		StartTime           *int64   `json:"startTime"`
		EndTime             *int64   `json:"endTime"`
		FilterPattern       string   `json:"filterPattern"`
		NextToken           string   `json:"nextToken"`
		Limit               int      `json:"limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	group, err := h.groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	pattern, err := logs.ParsePattern(in.FilterPattern)
	if err != nil {
		return nil, invalid("Invalid filter pattern: %v", err)
	}
	var after *position
	if in.NextToken != "" {
		after = &position{}
		if err := readToken(in.NextToken, after); err != nil {
			return nil, err
		}
	}
	streams, err := h.streams(group)
	if err != nil {
		return nil, err
	}
	window := timeRange{start: in.StartTime, end: in.EndTime, endIncluded: true}
	type hit struct {
		position
		ev logs.Event
	}
	var hits []hit
	for _, s := range streams {
		if !strings.HasPrefix(s.Name, in.LogStreamNamePrefix) || (len(in.LogStreamNames) > 0 && !slices.Contains(in.LogStreamNames, s.Name)) {
			continue
		}
		// A stream whose events all lie outside the window is not read
		// (aws logs tail --follow asks every few seconds for the newest).
		if s.Last.IsZero() || (window.start != nil && s.Last.UnixMilli() < *window.start) || (window.end != nil && s.First.UnixMilli() > *window.end) {
			continue
		}
		err := h.logs.Events(group, s.Name, func(ev logs.Event) bool {
			p := position{T: ev.Time.UnixMilli(), S: s.Name, Q: ev.Seq}
			if window.holds(ev.Time) && (after == nil || p.compare(*after) > 0) && pattern.Match(ev.Message) {
				hits = append(hits, hit{p, ev})
			}
			return true
		})
		if err != nil && !errors.Is(err, logs.ErrNotFound) { // a stream retention just removed
			return nil, err
		}
	}
	slices.SortFunc(hits, func(a, b hit) int { return a.compare(b.position) })
	limit := orDefault(in.Limit, maxEvents)
	out := struct {
		Events    []filteredEvent `json:"events"`
		NextToken *string         `json:"nextToken,omitempty"`
	}{Events: []filteredEvent{}}
	size := 0
	for i, hit := range hits {
		size += len(hit.ev.Message) + eventOverhead
		if i == limit || size > maxResponseBytes {
			out.NextToken = token(hits[i-1].position)
			break
		}
		out.Events = append(out.Events, filteredEvent{LogStreamName: hit.S, Timestamp: hit.T, Message: hit.ev.Message, IngestionTime: hit.T, EventID: eventID(hit.position)})
	}
	return out, nil
}
