package autoscaler

import (
	"errors"

	"github.com/ebbscale/ebb/internal/fault"
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

var errorf = fault.Errorf

func noTarget(ns, id, dim string) error {
	return errorf(ErrObjectNotFound, "No scalable target registered for service namespace: %s, resource ID: %s, scalable dimension: %s", ns, id, dim)
}
