// Package replay is the device model that plays a recorded line back: a
// scenario's byte-level steps, in order, strictly. An expect step is what
// the host must send next, exactly (hex) or as a frame of the encoder's
// protocol whose fields may be patterns; a send step is what the device
// answers; waits between them are its delays.
//
// The steps are scenario timeline steps: scenario.Play runs them and
// calls the model's Expect and Send (scenario.ByteDevice), so a mismatch
// or a step left unplayed surfaces where every other timeline failure
// does, as a *scenario.StepError naming the step and its line. On the
// first mismatch the model stops: it answers nothing more.
//
// Frame text is the protocol's own: the encoder's protocol compiles it
// as the scenario loads (model.Protocol.Frames, scenario.Bytes.Step),
// and the model renders and matches what the compiled steps say, so a
// vendor's protocol replays as the bundled ones do. Its patterns are
// `*` for anything and `$name` for a capture, which an expect takes the
// first time, must match after, and a send writes back (a card id the
// host chose, echoed in the answer). An expected frame must be whole,
// with right checksums; a sent frame gets its own. The bundled
// protocols' text is described at trace.PMSFrameText and
// trace.PN532FrameText.
package replay
