package model

// Frames compiles a protocol's frame text: what a replay scenario's
// expect and send steps write as {frame: TEXT}, in a syntax of the
// protocol's own (PMS fields, PN532 bytes in hex), so that the loader
// (sim/scenario) and the replay model (sim/replay) handle frames of a
// protocol they know nothing of. A `$name` in the text is a capture: an
// expect takes what the host sent there, a send writes it back.
type Frames interface {
	// Parse compiles a frame step's text; send says it is a send step's,
	// which must name every byte it writes. The error says what is wrong
	// with the text, as the loader reports it at the step.
	Parse(text string, send bool) (FrameStep, error)
}

// FrameChecker is implemented by Frames whose text has rules only a
// whole timeline shows: a PN532 capture's length, fixed by the expect
// that takes it, against what later steps write of it.
type FrameChecker interface {
	// Check looks at a timeline's frame steps, in order, each as Parse
	// returned it, and reports what is wrong with the i-th of them.
	Check(steps []FrameStep, report func(i int, msg string))
}

// FrameStep is one compiled frame step. Captures are kept in a map from
// name (without the $) to value, shared by a replay's steps; a value is
// the protocol's own (a field's text, a run of bytes) and only its
// steps read it.
type FrameStep interface {
	// Captures lists the step's captures, without the $, in the order
	// written: those an expect takes or must match again, those a send
	// writes.
	Captures() []string
	// Exact is the bytes the step names when it has no patterns, which
	// a mismatch shows as what was wanted; nil otherwise.
	Exact() []byte
	// Render is a send step's bytes, with captures filled in from what
	// earlier expects took.
	Render(captures map[string]string) ([]byte, error)
	// Match judges buf, everything the host sent from the step on:
	// NeedMore; Matched with the count of bytes the step takes; or
	// Mismatched with the count that shows it, which the mismatch
	// reports as received, and why. A match adds what the step took to
	// captures; otherwise captures stay as they were.
	Match(buf []byte, captures map[string]string) (v Verdict, n int, why string)
}

// Verdict is how far received bytes go towards an expect step.
type Verdict int

// Verdicts of FrameStep.Match.
const (
	NeedMore Verdict = iota
	Matched
	Mismatched
)
