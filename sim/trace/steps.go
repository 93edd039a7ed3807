package trace

import "regexp"

// FrameField is one field of a compiled frame step (PMSStep, PN532Step).
// In a PMS frame it is a field's text; in a PN532 frame it is one or
// more bytes of the TFI and data, and Text holds one byte as two
// upper-case hex digits (or ACK, NACK alone).
type FrameField struct {
	// Text is the literal text (when Any is false and Capture is "").
	Text string
	// Any matches any text (`*`; expect only).
	Any bool
	// Capture is a name (`$cardid`): in an expect it takes the received
	// text, or must equal it if already taken; in a send it writes it.
	Capture string
	// Len is how many bytes a PN532 `*` or `$name` covers, as written
	// (`*:16`, `$block4:16`), or 0 when not written: `*` is one byte, a
	// first `$name` one byte, a later `$name` the bytes it took. It is
	// always 0 in PMS frames.
	Len int
}

// captureName is how every protocol's frame text writes a capture.
var captureName = regexp.MustCompile(`^\$[a-z][a-z0-9_]*$`)

// capturesOf lists the captures of fields, in order.
func capturesOf(fields []FrameField) []string {
	var out []string
	for _, f := range fields {
		if f.Capture != "" {
			out = append(out, f.Capture)
		}
	}
	return out
}
