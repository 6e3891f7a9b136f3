package smruntime

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/ebbscale/ebb/internal/router"
)

// EventStreamType is the content type of a response stream.
const EventStreamType = "application/vnd.amazon.eventstream"

// streamChunk bounds one PayloadPart: a model's chunk larger than this is
// sent as several parts.
const streamChunk = 32 << 10

// InvokeStream is InvokeEndpointWithResponseStream: the model's answer is
// forwarded as it arrives, each chunk the container writes (chunked
// transfer) becoming one PayloadPart event of the AWS event-stream
// encoding (the AWS SDK's own encoder), never buffered whole. Errors before
// the first byte are ordinary error responses (ModelError, ValidationError);
// a model connection that breaks mid-stream ends the stream with a
// ModelStreamError event (StreamBroken; ModelInvocationTimeExceeded past
// the model timeout), as SageMaker does.
func (h *Handler) InvokeStream(w http.ResponseWriter, r *http.Request, endpoint string, body []byte, received time.Time) {
	resp, ok := h.route(w, r, "InvokeEndpointWithResponseStream", endpoint, body, received)
	if !ok {
		return
	}
	defer resp.Close()
	out := w.Header()
	out.Set("Content-Type", EventStreamType)
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		out.Set("X-Amzn-SageMaker-Content-Type", ct)
	}
	if ca := resp.Header.Get("X-Amzn-SageMaker-Custom-Attributes"); ca != "" {
		out.Set("X-Amzn-SageMaker-Custom-Attributes", ca)
	}
	out.Set("X-Amzn-Invoked-Production-Variant", resp.Variant)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	enc := eventstream.NewEncoder()
	buf := make([]byte, streamChunk)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if werr := enc.Encode(w, payloadPart(buf[:n])); werr != nil {
				return // the client went away
			}
			if rc.Flush() != nil {
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			code := "StreamBroken"
			if errors.Is(err, router.ErrTimeout) || isTimeout(err) {
				code = "ModelInvocationTimeExceeded"
			}
			enc.Encode(w, exception("ModelStreamError", map[string]string{"Message": "The model's response stream ended early: " + err.Error(), "ErrorCode": code}))
			rc.Flush()
			return
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// payloadPart is a PayloadPart event: its Bytes member is the event payload.
func payloadPart(b []byte) eventstream.Message {
	return eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue("PayloadPart")},
			{Name: ":content-type", Value: eventstream.StringValue("application/octet-stream")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: b,
	}
}

// exception is an error event of the stream (ModelStreamError,
// InternalStreamFailure), its members as a JSON payload.
func exception(typ string, members map[string]string) eventstream.Message {
	b, _ := json.Marshal(members)
	return eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":exception-type", Value: eventstream.StringValue(typ)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
		},
		Payload: b,
	}
}
