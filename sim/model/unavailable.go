package model

import "errors"

// ErrUnavailable is wrapped by the error of a model's Transport when this
// machine lacks what the model needs to run (a tool not installed, a
// privilege the process does not have), as opposed to a model that
// failed. A desk that runs many encoders can go on without such an
// encoder, saying why; a test run must not.
var ErrUnavailable = errors.New("the device model cannot run on this machine")
