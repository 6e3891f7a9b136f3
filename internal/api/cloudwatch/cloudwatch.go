// Package cloudwatch serves the CloudWatch API in all three protocols its
// clients speak (awsQuery, awsJson 1.0 and Smithy RPC v2 CBOR; see
// spec/aws-semantics.md 1.2), answering each in its own protocol. Every
// request is turned into the operation's awsJson document, validated against
// the official model, run once, and the answer encoded back.
package cloudwatch

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/awsmodel"
	"github.com/ebbscale/ebb/internal/api/awsquery"
	"github.com/ebbscale/ebb/internal/api/rpcv2cbor"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/store"
)

// Wire constants.
const (
	TargetPrefix   = "GraniteServiceVersion20100801."
	CBORPathPrefix = "/service/GraniteServiceVersion20100801/operation/"
	Namespace      = "http://monitoring.amazonaws.com/doc/2010-08-01/"
	JSONType       = "application/x-amz-json-1.0"
	APIVersion     = "2010-08-01"
)

// Protocol is how a request arrived.
type Protocol int

const (
	JSON Protocol = iota
	CBOR
	Query
)

type op func(ctx context.Context, body []byte) (any, error)

// Tags is where alarm tags are kept.
type Tags interface {
	store.Tags
}

// Handler serves CloudWatch.
type Handler struct {
	metrics *metrics.Store
	monitor *monitor.Monitor
	tags    Tags
	clock   clock.Clock
	ops     map[string]op
}

// New returns the CloudWatch handler.
func New(ms *metrics.Store, mon *monitor.Monitor, tags Tags, clk clock.Clock) *Handler {
	h := &Handler{metrics: ms, monitor: mon, tags: tags, clock: clk}
	h.ops = map[string]op{
		"PutMetricData":           h.putMetricData,
		"GetMetricStatistics":     h.getMetricStatistics,
		"ListMetrics":             h.listMetrics,
		"GetMetricData":           h.getMetricData,
		"PutMetricAlarm":          h.putMetricAlarm,
		"DescribeAlarms":          h.describeAlarms,
		"DescribeAlarmsForMetric": h.describeAlarmsForMetric,
		"DeleteAlarms":            h.deleteAlarms,
		"SetAlarmState":           h.setAlarmState,
		"EnableAlarmActions":      h.enableAlarmActions,
		"DisableAlarmActions":     h.disableAlarmActions,
		"DescribeAlarmHistory":    h.describeAlarmHistory,
		"TagResource":             h.tagResource,
		"UntagResource":           h.untagResource,
		"ListTagsForResource":     h.listTagsForResource,
	}
	return h
}

// Fail answers with an error in the protocol of the request.
func (h *Handler) Fail(w http.ResponseWriter, proto Protocol, err error) {
	requestID := w.Header().Get("X-Amzn-Requestid")
	e := errorTable.Map(err)
	switch proto {
	case Query:
		code := e.QueryCode
		if code == "" {
			code = e.Code // never an empty <Code>: boto3 would see None
		}
		b := awsquery.EncodeError(Namespace, code, e.Message, e.Sender(), requestID)
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(e.Status)
		w.Write(b)
	case CBOR:
		b := rpcv2cbor.EncodeError(e.Code, e.Message)
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", rpcv2cbor.ContentType)
		if q := e.QueryErrorHeader(); q != "" {
			w.Header().Set("X-Amzn-Query-Error", q)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(e.Status)
		w.Write(b)
	default:
		awsjson.WriteError(w, JSONType, e)
	}
}

// Serve runs op with a body already read, decompressed and authenticated.
// For Query, body is the form and op comes from its Action.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, proto Protocol, name string, body []byte) {
	requestID := w.Header().Get("X-Amzn-Requestid")
	fail := func(err error) { h.Fail(w, proto, err) }
	var form url.Values
	if proto == Query {
		var err error
		if form, err = url.ParseQuery(string(body)); err != nil {
			fail(&awsmodel.SerializationError{Msg: "Malformed form body: " + err.Error()})
			return
		}
		name = form.Get("Action")
	}
	fn, ok := h.ops[name]
	if !ok {
		fail(unknownOperation(name))
		return
	}
	doc := body
	var err error
	switch proto {
	case Query:
		doc, err = awsquery.Decode(awsmodel.CloudWatch, name, form)
	case CBOR:
		doc, err = rpcv2cbor.Decode(awsmodel.CloudWatch, name, body)
	}
	if err == nil {
		doc, err = awsmodel.CloudWatch.Clean(name, doc)
	}
	if err != nil {
		fail(err)
		return
	}
	if len(doc) == 0 {
		doc = []byte("{}")
	}
	out, err := fn(r.Context(), doc)
	if err != nil {
		fail(err)
		return
	}
	answer, err := json.Marshal(out)
	if err != nil {
		fail(err)
		return
	}
	var b []byte
	var contentType string
	switch proto {
	case Query:
		b, err = awsquery.Encode(awsmodel.CloudWatch, Namespace, name, answer, requestID)
		contentType = "text/xml"
	case CBOR:
		b, err = rpcv2cbor.Encode(awsmodel.CloudWatch, name, answer)
		contentType = rpcv2cbor.ContentType
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	default:
		b, contentType = answer, JSONType
	}
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &awsmodel.SerializationError{Msg: err.Error()}
	}
	return nil
}
