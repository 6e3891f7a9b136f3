// Package awserr is the one place where ebb's errors become AWS errors: the
// code (the __type), the HTTP status and the message each client expects.
package awserr

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ebbscale/ebb/internal/api/awsmodel"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/router"
)

// Error is an AWS error as it goes on the wire.
type Error struct {
	Code    string // e.g. ValidationException
	Status  int
	Message string
	// Fields are extra members of the error shape (ModelError's
	// OriginalStatusCode, ...).
	Fields map[string]any
	// QueryCode is the awsQuery error code of a query-compatible service
	// (CloudWatch: InvalidParameterValue for InvalidParameterValueException);
	// JSON and CBOR answers carry it in x-amzn-query-error.
	QueryCode string
}

// Sender reports whether the caller is at fault (4xx).
func (e *Error) Sender() bool { return e.Status < 500 }

// QueryErrorHeader is the value of x-amzn-query-error ("Code;Sender").
func (e *Error) QueryErrorHeader() string {
	if e.QueryCode == "" {
		return ""
	}
	if e.Sender() {
		return e.QueryCode + ";Sender"
	}
	return e.QueryCode + ";Receiver"
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns an error with a formatted message.
func New(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// Common errors of the AWS JSON protocols.
func Serialization(msg string) *Error {
	return New("SerializationException", http.StatusBadRequest, "%s", msg)
}

func UnknownOperation(target string) *Error {
	return New("UnknownOperationException", http.StatusBadRequest, "Operation %s is not supported by this endpoint.", target)
}

func Internal(err error) *Error {
	return New("InternalFailure", http.StatusInternalServerError, "An internal error occurred: %v", err)
}

// FromSageMaker maps an error of a SageMaker control-plane operation.
// SageMaker reports missing and conflicting resources as ValidationException
// (its model has no ResourceNotFound for these operations).
func FromSageMaker(err error) *Error {
	var e *Error
	var se *awsmodel.SerializationError
	var ve *awsmodel.ValidationError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &se):
		return Serialization(se.Msg)
	case errors.As(err, &ve):
		return New("ValidationException", http.StatusBadRequest, "%s", ve.Error())
	case errors.Is(err, hosting.ErrLimit):
		return New("ResourceLimitExceeded", http.StatusBadRequest, "%s", err.Error())
	case errors.Is(err, hosting.ErrNotFound), errors.Is(err, hosting.ErrExists),
		errors.Is(err, hosting.ErrInProgress), errors.Is(err, hosting.ErrInvalid):
		return New("ValidationException", http.StatusBadRequest, "%s", err.Error())
	}
	return Internal(err)
}

// FromRuntime maps an error of InvokeEndpoint. region and account build the
// messages SageMaker Runtime gives.
func FromRuntime(err error, endpoint, region, account string) *Error {
	var e *Error
	var me *router.ModelError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &me):
		kind := "client"
		if me.StatusCode >= 500 {
			kind = "server"
		}
		logURL := fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#logEventViewer:group=/aws/sagemaker/Endpoints/%s", region, region, endpoint)
		return &Error{
			Code:   "ModelError",
			Status: http.StatusFailedDependency,
			Message: fmt.Sprintf("Received %s error (%d) from primary with message \"%s\". See %s in account %s for more information.",
				kind, me.StatusCode, me.Body, logURL, account),
			Fields: map[string]any{
				"OriginalStatusCode": me.StatusCode,
				"OriginalMessage":    string(me.Body),
				"LogStreamArn":       fmt.Sprintf("arn:aws:logs:%s:%s:log-group:/aws/sagemaker/Endpoints/%s", region, account, endpoint),
			},
		}
	case errors.Is(err, router.ErrTimeout):
		return &Error{Code: "ModelError", Status: http.StatusFailedDependency,
			Message: "Your invocation timed out while waiting for a response from container primary. Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again."}
	case errors.Is(err, router.ErrEndpointNotFound):
		return New("ValidationError", http.StatusBadRequest, "Endpoint %s of account %s not found.", endpoint, account)
	case errors.Is(err, router.ErrVariantNotFound):
		return New("ValidationError", http.StatusBadRequest, "The target variant is not part of endpoint %s of account %s.", endpoint, account)
	case errors.Is(err, router.ErrColdStartBufferFull):
		return New("ServiceUnavailable", http.StatusServiceUnavailable, "Endpoint %s is starting an instance and already holds as many waiting requests as it may; retry with backoff.", endpoint)
	case errors.Is(err, router.ErrColdStartTimeout):
		return New("ServiceUnavailable", http.StatusServiceUnavailable, "Endpoint %s did not get an instance in time to serve this request; its instance is still starting, retry with backoff.", endpoint)
	case errors.Is(err, router.ErrNoCapacity):
		return New("ValidationError", http.StatusBadRequest, "Endpoint %s has no capacity to process this request. Application Auto Scaling may be in progress (if configured), or increase the capacity with UpdateEndpointWeightsAndCapacities.", endpoint)
	}
	return Internal(err)
}
