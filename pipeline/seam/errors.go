package seam

import (
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
