// Package timeline draws a serial trace (sim/trace) as a self-contained
// HTML page: an inline SVG timeline with a host lane and a device lane,
// one mark per chunk of bytes, labelled with the frames it completed.
//
// The page carries no scripts and loads nothing, so it can be attached to
// a bug or archived next to a conformance report and opened anywhere.
// Hovering a mark shows its time, size and bytes in hex (an SVG <title>).
//
// Time runs down the page. Within a burst the spacing grows with the time
// between chunks, so waits are visible; a silence longer than Options.Break
// is cut out and drawn as a break naming its length, so a 30 s card wait
// does not push the rest of the exchange off the screen. Every event gets
// its mark, but only the first Options.MaxLabels get text, which keeps a
// 10,000-event trace a page a browser opens quickly.
package timeline
