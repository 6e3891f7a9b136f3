// Package awserr is the AWS error as it goes on the wire (the code or
// __type, the HTTP status, the message each client expects) and the Table
// type with which each service's api package maps its domain errors to
// it. It imports nothing outside internal/api, so the codecs and SigV4 that
// use it link no service.
package awserr

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ebbscale/ebb/internal/api/awsmodel"
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

// Rule maps a kind of error (matched with errors.Is) to an AWS error; the
// message is the error's own unless Message builds one.
type Rule struct {
	Kind      error
	Code      string
	Status    int
	QueryCode string
	Message   func(err error) string
}

// Table is one service's mapping from errors to AWS errors, walked in
// order. An *Error passes through unchanged; an error whose Unavailable()
// is true (the store cannot be reached) is ServiceUnavailable (503, which
// AWS SDKs retry); an error no rule matches is the service's internal error
// (InternalCode, 500).
type Table struct {
	Rules                       []Rule
	InternalCode, InternalQuery string
}

// Map returns the AWS error for err.
func (t Table) Map(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var u interface{ Unavailable() bool }
	if errors.As(err, &u) && u.Unavailable() {
		return &Error{Code: "ServiceUnavailable", QueryCode: "ServiceUnavailable", Status: http.StatusServiceUnavailable,
			Message: "The service is unavailable. Please try again later."}
	}
	for _, r := range t.Rules {
		if errors.Is(err, r.Kind) {
			msg := err.Error()
			if r.Message != nil {
				msg = r.Message(err)
			}
			return &Error{Code: r.Code, Status: r.Status, QueryCode: r.QueryCode, Message: msg}
		}
	}
	return &Error{Code: t.InternalCode, QueryCode: t.InternalQuery, Status: http.StatusInternalServerError,
		Message: fmt.Sprintf("An internal error occurred: %v", err)}
}

// ModelRules are the rules for the errors of request validation against a
// service model, which every JSON service shares.
var ModelRules = []Rule{
	{Kind: awsmodel.ErrSerialization, Code: "SerializationException", Status: http.StatusBadRequest},
	{Kind: awsmodel.ErrValidation, Code: "ValidationException", Status: http.StatusBadRequest},
}

type writerKey struct{}

// WithWriter returns a context that carries how errors are written in the
// protocol of the request at hand (awsJson, awsQuery, CBOR, S3's XML), for
// a handler the API front hands the request to without knowing it (a
// follower's forwarder).
func WithWriter(ctx context.Context, write func(http.ResponseWriter, *Error)) context.Context {
	return context.WithValue(ctx, writerKey{}, write)
}

// WriterFrom returns the writer WithWriter put in ctx, or nil.
func WriterFrom(ctx context.Context) func(http.ResponseWriter, *Error) {
	w, _ := ctx.Value(writerKey{}).(func(http.ResponseWriter, *Error))
	return w
}
