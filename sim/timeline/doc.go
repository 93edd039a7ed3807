// Package timeline draws a serial trace (sim/trace) as a self-contained
// HTML page: an inline SVG timeline with a host lane and a device lane,
// one row per frame.
//
// Decode reassembles each direction's bytes into frames, however many
// chunks they came in, and names them through the protocol's
// model.Timeline, which its model registers: the bundled ones name
// them from the protocol pages (docs/protocols/pn532.md, "Names in
// timelines", and pms.md), never from the pipeline's drivers
// (trace.PN532Timeline, trace.PMSTimeline). A field the recorder blanked
// out (Header.Redacted) reads ‹redacted›. A frame sent again without an
// answer in between (after a NAK or NACK, or for want of an ACK) is a
// retransmission; each host command starts an exchange, and when the
// encode failed the last exchange that went wrong (an error, a damaged
// frame, no answer, no card) is the failing exchange. WriteText prints
// the same frames one a line.
//
// The page carries no scripts and loads nothing, so it can be attached to
// a bug or archived next to a conformance report and opened anywhere.
// Hovering a mark shows its time, size and bytes in hex (an SVG <title>);
// a legend explains the marks.
//
// Time runs down the page, counted from the trace's first byte. Within a
// burst the spacing grows with the time between frames, so waits are
// visible; a silence longer than Options.Break is cut out and drawn as a
// break naming its length, so a 30 s card wait does not push the rest of
// the exchange off the screen. Every frame gets its mark, but only the
// first Options.MaxLabels get text, which keeps a 10,000-frame trace a
// page a browser opens quickly.
package timeline
