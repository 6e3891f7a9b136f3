package autoscaler

import (
	"errors"
	"fmt"
)

// Conditions the API maps to Application Auto Scaling's error types.
var (
	ErrValidation       = errors.New("ValidationException")
	ErrObjectNotFound   = errors.New("ObjectNotFoundException")
	ErrLimit            = errors.New("LimitExceededException")
	ErrInvalidNextToken = errors.New("InvalidNextTokenException")
	ErrResourceNotFound = errors.New("ResourceNotFoundException")
	ErrTooManyTags      = errors.New("TooManyTagsException")
)

// Error carries AWS's message; errors.Is matches its Kind.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func noTarget(ns, id, dim string) error {
	return errorf(ErrObjectNotFound, "No scalable target registered for service namespace: %s, resource ID: %s, scalable dimension: %s", ns, id, dim)
}
