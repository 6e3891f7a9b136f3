package cloudwatch

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsmodel"
)

// CloudWatch's modelled errors: the JSON/CBOR type (the shape name), the
// awsQuery code, the HTTP status.
func cwError(shape, code string, status int, format string, args ...any) *awserr.Error {
	return &awserr.Error{Code: shape, QueryCode: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func invalidValue(format string, args ...any) *awserr.Error {
	return cwError("InvalidParameterValueException", "InvalidParameterValue", http.StatusBadRequest, format, args...)
}

func invalidCombination(format string, args ...any) *awserr.Error {
	return cwError("InvalidParameterCombinationException", "InvalidParameterCombination", http.StatusBadRequest, format, args...)
}

func missing(name string) *awserr.Error {
	return cwError("MissingRequiredParameterException", "MissingParameter", http.StatusBadRequest, "The parameter %s is required.", name)
}

func notFound(format string, args ...any) *awserr.Error {
	return cwError("ResourceNotFound", "ResourceNotFound", http.StatusNotFound, format, args...)
}

func invalidNextToken() *awserr.Error {
	return cwError("InvalidNextToken", "InvalidNextToken", http.StatusBadRequest, "The service couldn't process the NextToken.")
}

// validationError is CloudWatch's non-modelled ValidationError.
func validationError(msg string) *awserr.Error {
	return cwError("ValidationException", "ValidationError", http.StatusBadRequest, "%s", msg)
}

// fromError maps any error of a CloudWatch operation.
func fromError(err error) *awserr.Error {
	var e *awserr.Error
	var se *awsmodel.SerializationError
	var ve *awsmodel.ValidationError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &se):
		return cwError("SerializationException", "SerializationException", http.StatusBadRequest, "%s", se.Msg)
	case errors.As(err, &ve):
		return cwError("ValidationException", "ValidationError", http.StatusBadRequest, "%s", ve.Error())
	case errors.Is(err, awsmodel.ErrUnknownOperation):
		return cwError("UnknownOperationException", "InvalidAction", http.StatusBadRequest, "Could not find operation %v", err)
	}
	return cwError("InternalServiceFault", "InternalServiceError", http.StatusInternalServerError, "An internal error occurred: %v", err)
}
