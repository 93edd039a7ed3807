package seam

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is a request the API refuses: the error envelope's type and
// message, and the HTTP status it travels with. Packages below the API
// return it for the refusals a client can act on (an unknown id, a bad
// parameter); anything else is an internal error.
type Error struct {
	Status  int
	Type    string
	Message string
	// Validation, on an invalid_input, names every parameter that is
	// wrong and why.
	Validation *ValidationErrors
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Type, e.Status, e.Message) }

// NotFound is a 404 whose type is "<resource>_not_found", e.g.
// NotFound("acs_encoder", id) → acs_encoder_not_found.
func NotFound(resource, id string) *Error {
	return &Error{Status: http.StatusNotFound, Type: resource + "_not_found",
		Message: fmt.Sprintf("%s %q not found", resource, id)}
}

// InvalidInput is a 400 invalid_input.
func InvalidInput(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_input", Message: fmt.Sprintf(format, args...)}
}

// ValidationErrors is the validation_errors member of an invalid_input
// error, in the shape of zod's formatted error that Seam's SDKs read
// (getValidationErrorMessages): the messages about an object itself
// under "_errors", and one entry per member that is wrong.
type ValidationErrors struct {
	Errors []string
	Fields map[string]*ValidationErrors
}

// Add notes msg about the member at path ("" path: the object itself).
func (v *ValidationErrors) Add(path []string, msg string) {
	for _, k := range path {
		if v.Fields == nil {
			v.Fields = map[string]*ValidationErrors{}
		}
		next := v.Fields[k]
		if next == nil {
			next = &ValidationErrors{}
			v.Fields[k] = next
		}
		v = next
	}
	v.Errors = append(v.Errors, msg)
}

// MarshalJSON writes {"_errors": […], "<member>": {…}, …}.
func (v *ValidationErrors) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(v.Fields)+1)
	for k, f := range v.Fields {
		m[k] = f
	}
	errs := v.Errors
	if errs == nil {
		errs = []string{}
	}
	m["_errors"] = errs
	return json.Marshal(m)
}
