package hosting

import (
	"errors"

	"github.com/ebbscale/ebb/internal/fault"
)

// Conditions callers branch on. The API maps each to an AWS error code.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already exists")
	ErrInProgress = errors.New("operation in progress")
	ErrInvalid    = errors.New("invalid request")
	ErrLimit      = errors.New("resource limit exceeded")
)

var errorf = fault.Errorf
