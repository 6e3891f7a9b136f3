package cloudwatch

import (
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

// resourceNotFound is the tag operations' error for an unknown ARN (shape
// and code ResourceNotFoundException; ResourceNotFound is another shape).
func resourceNotFound(arn string) *awserr.Error {
	return cwError("ResourceNotFoundException", "ResourceNotFoundException", http.StatusNotFound, "The specified resource %s does not exist.", arn)
}

func invalidNextToken() *awserr.Error {
	return cwError("InvalidNextToken", "InvalidNextToken", http.StatusBadRequest, "The service couldn't process the NextToken.")
}

// validationError is CloudWatch's non-modelled ValidationError.
func validationError(msg string) *awserr.Error {
	return cwError("ValidationException", "ValidationError", http.StatusBadRequest, "%s", msg)
}

// unknownOperation is CloudWatch's answer to an operation it does not have
// (Coral's text; awsQuery code InvalidAction).
func unknownOperation(name string) *awserr.Error {
	if name == "" {
		name = "(none)"
	}
	return cwError("UnknownOperationException", "InvalidAction", http.StatusBadRequest, "Could not find operation %s for version 2010-08-01", name)
}

// errorTable maps the errors of request decoding and validation; the
// operations return CloudWatch's modelled errors (above) themselves.
var errorTable = awserr.Table{
	Rules: []awserr.Rule{
		{Kind: awsmodel.ErrSerialization, Code: "SerializationException", QueryCode: "SerializationException", Status: http.StatusBadRequest},
		{Kind: awsmodel.ErrValidation, Code: "ValidationException", QueryCode: "ValidationError", Status: http.StatusBadRequest},
		{Kind: awsmodel.ErrUnknownOperation, Code: "UnknownOperationException", QueryCode: "InvalidAction", Status: http.StatusBadRequest,
			Message: func(error) string { return "Could not find operation for version 2010-08-01" }},
	},
	InternalCode: "InternalServiceFault", InternalQuery: "InternalServiceError",
}
