package pms

import (
	"errors"
	"fmt"
	"strings"

	"github.com/encoderlab/encoderlab/sim/card"
)

// wrotePrefix starts the Detail of the EventCard a write emits
// (writeLocked); WroteCard is the one place outside it that knows.
const wrotePrefix = "wrote "

// WroteCard reports whether e is the event of a card the device has just
// written. A Trace function uses it to learn when a card needs replacing,
// without parsing the model's wording itself.
func WroteCard(e Event) bool {
	return e.Kind == EventCard && strings.HasPrefix(e.Detail, wrotePrefix)
}

// Restock puts blank on the reader in place of whatever is there, unless
// the reader already holds a blank card, so a device that serves an
// endless stream of encodes never runs out of blank cards. It swaps only
// between commands: while a command is being worked on, the reader is
// left alone (taking its card away would end an encode card-removed) and
// Restock reports false; call it again after the command is answered.
// It reports true when blank went on the reader.
func (d *Device) Restock(blank *card.Card) (bool, error) {
	if blank == nil {
		return false, errors.New("restock: no card")
	}
	if k := blank.Contents().Kind; k != card.Blank {
		return false, fmt.Errorf("restock with %q: it holds a %s card, want a blank one", blank.Name, k)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.outstanding != nil {
		return false, nil
	}
	old := d.field
	if old != nil && old.Contents().Kind == card.Blank {
		return false, nil
	}
	d.field = blank
	d.fieldChangedLocked()
	if old != nil {
		d.emit(EventCard, nil, fmt.Sprintf("restocked: removed %q, placed %q (%s %s)", old.Name, blank.Name, blank.Tech, blank.UID))
	} else {
		d.emit(EventCard, nil, fmt.Sprintf("restocked: placed %q (%s %s)", blank.Name, blank.Tech, blank.UID))
	}
	return true, nil
}
