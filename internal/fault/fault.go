// Package fault is the one error type of ebb's services: a sentinel kind
// that callers branch on with errors.Is, and the message AWS would give.
// Each service declares its kinds; each API package maps them to AWS codes
// in its own table. It imports nothing, so every layer may use it.
package fault

import "fmt"

// Error is a service error of a kind, with AWS's message.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, kind) hold.
func (e *Error) Unwrap() error { return e.Kind }

// Errorf returns an error of kind with a formatted message.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
