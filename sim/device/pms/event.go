package pms

import (
	"fmt"
	"time"
)

// EventKind names what happened at the device.
type EventKind string

const (
	// EventReceived: a frame (or ENQ, ACK, NAK byte) arrived from the host.
	EventReceived EventKind = "received"
	// EventSent: the device put bytes on the line.
	EventSent EventKind = "sent"
	// EventSuppressed: bytes the device would have sent while silenced.
	EventSuppressed EventKind = "suppressed"
	// EventRejected: a received frame was NAKed (bad frame, or a NAK the
	// scenario asked for) and not acted on.
	EventRejected EventKind = "rejected"
	// EventIgnored: a frame for another address, or a retransmission.
	EventIgnored EventKind = "ignored"
	// EventCommand: the model took a command.
	EventCommand EventKind = "command"
	// EventAnswer: the model decided a command's answer.
	EventAnswer EventKind = "answer"
	// EventGaveUp: an answer went unACKed after every retransmission.
	EventGaveUp EventKind = "gave-up"
	// EventSetting: a scenario switched a behaviour (hold, silence, nak,
	// garble, busy).
	EventSetting EventKind = "setting"
	// EventCard: a card was placed, removed, being written or written.
	EventCard EventKind = "card"
)

// Event is one thing that happened at the device, for traces.
type Event struct {
	Time time.Time
	Kind EventKind
	// Bytes are the bytes received or sent, when the event has any.
	Bytes []byte
	// Detail says what the event was about, in words.
	Detail string
}

func (e Event) String() string {
	if len(e.Bytes) == 0 {
		return fmt.Sprintf("%s %s %s", e.Time.Format("15:04:05.000000"), e.Kind, e.Detail)
	}
	return fmt.Sprintf("%s %s % X %s", e.Time.Format("15:04:05.000000"), e.Kind, e.Bytes, e.Detail)
}
