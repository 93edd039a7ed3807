package attempt

import (
	"context"
	"errors"
	"fmt"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// failure is how an attempt ends when it does not succeed: an API error
// type and a message for the person at the desk. Type is the finest the
// pipeline can tell, from the latest profile's types; the API shows a
// workspace of another profile the type its revision has
// (seam.Profile.ErrorType).
type failure struct {
	Type    string
	Message string
}

// kindOutcomes maps a driver's error kind onto the API error type and the
// phrase that describes it (docs/protocols/pms.md, Outcomes; the latest
// profile's types where they name the event). Kinds the table does not
// name are uncategorized_error.
var kindOutcomes = map[driver.Kind]struct {
	errType string
	phrase  string
}{
	driver.NoCard:           {seam.ErrNoCredentialOnEncoder, "found no card"},
	driver.IncompatibleCard: {seam.ErrIncompatibleCardFormat, "cannot write the card"},
	driver.CannotOverwrite:  {seam.ErrCredentialCannotBeReissued, "refused to overwrite the card"},
	driver.Interrupted:      {seam.ErrEncodingInterrupted, "was interrupted"},
	driver.Busy:             {seam.ErrUncategorized, "stayed busy"},
	driver.NotAnswering:     {seam.ErrEncoderCommunicationTimeout, "is not answering"},
	driver.Link:             {seam.ErrUncategorized, "lost the link"},
	driver.Hangup:           {seam.ErrEncoderNotOnline, "hung up"},
	driver.Device:           {seam.ErrUncategorized, "reported an error"},
	driver.SeveralCards:     {seam.ErrUncategorized, "found more than one card and wrote none"},
}

// encodeFailure describes err, returned by a driver's Encode on encoder
// name, as the failure the attempt ends with.
func encodeFailure(name string, err error) failure {
	// A *driver.Error is what the encoder or the line did (driver.Driver),
	// whatever it wraps: a driver's own wait for an answer may end on a
	// context deadline of its making. Only an error that is no
	// *driver.Error says the attempt's deadline ended the encode.
	var de *driver.Error
	if !errors.As(err, &de) {
		if errors.Is(err, context.DeadlineExceeded) {
			return failure{seam.ErrActionAttemptExpired,
				fmt.Sprintf("encoder %s did not finish encoding before the attempt's deadline", name)}
		}
		return failure{seam.ErrUncategorized, fmt.Sprintf("encoder %s failed: %v", name, err)}
	}
	out, ok := kindOutcomes[de.Kind]
	if !ok {
		out.errType, out.phrase = seam.ErrUncategorized, "failed ("+de.Kind.String()+")"
	}
	detail := de.Detail
	if de.Err != nil {
		if detail != "" {
			detail += ": "
		}
		detail += de.Err.Error()
	}
	if detail == "" {
		detail = de.Kind.String()
	}
	return failure{out.errType, fmt.Sprintf("encoder %s %s: %s", name, out.phrase, detail)}
}

// closesPort reports whether the port must be reopened before the next
// encode after err: after a hang-up the descriptor is dead, and after an
// error the driver did not explain the state of the line is unknown. A
// cancelled encode leaves the line idle (the driver's contract), and every
// other driver error is an answer over a working line.
func closesPort(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	k := driver.KindOf(err)
	return k == driver.Hangup || k == 0
}

// simulatedOutcome is what the next encode on an encoder does instead of
// talking to the device, as armed by SimulateNext. An empty errType means
// success.
type simulatedOutcome struct {
	errType string
}

// simulatableErrors are the error types SimulateNext accepts, as in Seam's
// sandbox (/acs/encoders/simulate/next_credential_encode_will_fail).
var simulatableErrors = map[string]string{
	seam.ErrNoCredentialOnEncoder: "no card was placed on the encoder (simulated)",
	seam.ErrEncodingInterrupted:   "the card was removed before the write completed (simulated)",
	seam.ErrUncategorized:         "the encoder failed (simulated)",
	seam.ErrActionAttemptExpired:  "the attempt expired (simulated)",
}
