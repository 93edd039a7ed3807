// Package trace is the record of what crossed a serial line: every chunk
// of bytes with its direction and time, and, where the protocol is known,
// the frames they decode to. The recorder (encodersim record) writes
// traces; convert turns one into a replayable scenario; show draws it.
//
// On disk a trace is JSON Lines: a Header line, then one Event per line,
// in time order. Bytes are hex so a trace stays readable and diffable.
package trace

import "time"

// Version is the trace format's version, written in every header.
const Version = 1

// Direction says which way bytes went.
type Direction string

const (
	// HostToDevice: the pipeline (host) wrote, the encoder read.
	HostToDevice Direction = "host>device"
	// DeviceToHost: the encoder wrote, the pipeline read.
	DeviceToHost Direction = "device>host"
)

// Header is a trace's first line.
type Header struct {
	// Trace is always Version.
	Trace int `json:"trace"`
	// Protocol is the encoder protocol, the name of the registered model
	// whose decoder reads the line (Protocols), or "" when unknown: then
	// events carry no frames.
	Protocol string `json:"protocol,omitempty"`
	// Device is the real device's path, Link the path the pipeline used.
	Device string `json:"device,omitempty"`
	Link   string `json:"link,omitempty"`
	// Started is when recording began; event times count from it.
	Started time.Time `json:"started"`
	// Redacted lists what was blanked out before the trace was written
	// (e.g. "pms:label", "pn532:keys").
	Redacted []string `json:"redacted,omitempty"`
	// Note is free text: the field report this trace belongs to.
	Note string `json:"note,omitempty"`
	// Scale is the time scale the devices and the pipeline ran at while
	// the trace was recorded (virtual encoders in a compressed run); 0
	// or absent means real time, as on a real device.
	Scale float64 `json:"scale,omitempty"`
	// Outcome is how the encodes of the run this trace came from ended,
	// when the recorder knew (e.g. "success, error/no_credential_on_encoder").
	Outcome string `json:"outcome,omitempty"`
}

// Event is one chunk of bytes read from one side and written to the
// other, as the recorder saw it.
type Event struct {
	// T is the time since Header.Started, in microseconds.
	T int64 `json:"t_us"`
	// Dir is which way the bytes went.
	Dir Direction `json:"dir"`
	// Hex is the bytes, in lower-case hex without separators.
	Hex string `json:"hex"`
	// Frames are the protocol frames (or control bytes) completed by this
	// chunk, decoded for people, e.g. `CN 01 9F2C4D1A00000001 G …` or
	// `ACK`; empty when the protocol is unknown or no frame ended here.
	Frames []string `json:"frames,omitempty"`
	// Note marks what the recorder itself observed, e.g. "hangup".
	Note string `json:"note,omitempty"`
}
