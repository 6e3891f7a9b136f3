package hosting

import (
	"errors"
	"fmt"
)

// Conditions callers branch on. The API maps each to an AWS error code.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already exists")
	ErrInProgress = errors.New("operation in progress")
	ErrInvalid    = errors.New("invalid request")
	ErrLimit      = errors.New("resource limit exceeded")
)

// Error is a hosting error with AWS's message; errors.Is matches its Kind.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
