package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// Errors of the desk actions; the control API answers them with 404,
// 409 and 400.
var (
	ErrNoEncoder = errors.New("no such encoder")
	ErrConflict  = errors.New("not possible now")
	ErrBadInput  = errors.New("bad input")
)

// CardSpec says which card to put on a desk's reader.
type CardSpec struct {
	// Kind is what the card holds: blank (default), guest or staff (a
	// credential of the encoder's own system) or foreign (a card of
	// another system).
	Kind card.Kind `json:"kind"`
	// Tech is the card's technology; default mifare-classic-1k.
	Tech card.Technology `json:"tech"`
	// UID is the card's UID in hex (4, 7 or 10 bytes); default a new
	// random 7-byte one.
	UID string `json:"uid"`
	// CardID is the lock system's card id on a guest or staff card (16
	// hex digits); default a new random one.
	CardID string `json:"card_id"`
}

// Behaviours a desk can queue for the device's next command.
var Behaviours = []string{"busy", "nak", "garble", "silent"}

// desk returns the encoder named name, ready for a desk action: it must
// exist, be a desk (not playing a scenario) and be plugged in. It holds
// the encoder's act lock on success; the caller unlocks it.
func (l *Lab) desk(name string) (*encoder, error) {
	e := l.byName[name]
	if e == nil {
		return nil, fmt.Errorf("%w %q (the lab has %s)", ErrNoEncoder, name, strings.Join(l.names(), ", "))
	}
	e.act.Lock()
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	switch {
	case e.Scenario != "":
		err = fmt.Errorf("%w: %s plays the scenario %s; only a desk takes desk actions (start it without --play %s=…)", ErrConflict, name, e.Scenario, name)
	case e.unplugged:
		err = fmt.Errorf("%w: %s is unplugged; restart the lab to plug it in again", ErrConflict, name)
	case e.sim == nil:
		err = fmt.Errorf("%w: %s is on the real port %s, not a virtual one", ErrConflict, name, e.Port)
	}
	if err != nil {
		e.act.Unlock()
		return nil, err
	}
	return e, nil
}

// newCard makes the card spec describes for e.
func (l *Lab) newCard(e *encoder, spec CardSpec) (*card.Card, error) {
	if spec.Kind == "" {
		spec.Kind = card.Blank
	}
	if !spec.Kind.Valid() {
		return nil, fmt.Errorf("%w: kind %q: want one of %v", ErrBadInput, spec.Kind, card.Kinds)
	}
	if spec.Tech == "" {
		spec.Tech = card.MifareClassic1K
	}
	if !spec.Tech.Valid() {
		return nil, fmt.Errorf("%w: tech %q: want one of %v", ErrBadInput, spec.Tech, card.Technologies)
	}
	if spec.UID == "" {
		spec.UID = randomHex(7, 0x04) // NXP's manufacturer byte first
	}
	if spec.CardID == "" && (spec.Kind == card.Guest || spec.Kind == card.Staff) {
		spec.CardID = randomHex(8, 0)
	}
	// e.act is held: made changes under it only.
	name := fmt.Sprintf("card-%d", e.made+1)
	cards, err := scenario.Cards(&scenario.Scenario{File: "desk", Cards: []scenario.CardSpec{{
		Name: name, Tech: spec.Tech, UID: spec.UID, Holds: spec.Kind, CardID: strings.ToUpper(spec.CardID),
	}}})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	e.made++
	return cards[name], nil
}

// randomHex is n random bytes in upper-case hex, the first one first
// when it is not 0.
func randomHex(n int, first byte) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux
	if first != 0 {
		b[0] = first
	}
	return fmt.Sprintf("%X", b)
}

// Place puts a new card on an empty reader.
func (l *Lab) Place(name string, spec CardSpec) (*card.Card, error) {
	e, err := l.desk(name)
	if err != nil {
		return nil, err
	}
	defer e.act.Unlock()
	if on := l.onReader(e); len(on) > 0 {
		return nil, fmt.Errorf("%w: %s already has %s on its reader: remove it, swap it, or stack a second card", ErrConflict, name, on[len(on)-1].Name)
	}
	return l.put(e, spec)
}

// Stack puts a second (third, …) card on the reader, on top of those
// there. Only a PN532 front end sees stacked cards; a PMS encoder's
// reader takes one card (docs/protocols/pms.md).
func (l *Lab) Stack(name string, spec CardSpec) (*card.Card, error) {
	e, err := l.desk(name)
	if err != nil {
		return nil, err
	}
	defer e.act.Unlock()
	if len(l.onReader(e)) == 0 {
		return nil, fmt.Errorf("%w: %s's reader is empty: place a card first", ErrConflict, name)
	}
	if m, _ := model.Lookup(e.Driver); !m.Stacks {
		return nil, fmt.Errorf("%w: %s is a %s encoder, whose reader takes one card; stacked cards are a case of a reader whose field holds several (a PN532)", ErrConflict, name, e.Driver)
	}
	return l.put(e, spec)
}

// Swap takes every card off the reader and puts a new one on.
func (l *Lab) Swap(name string, spec CardSpec) (*card.Card, error) {
	e, err := l.desk(name)
	if err != nil {
		return nil, err
	}
	defer e.act.Unlock()
	c, err := l.newCard(e, spec)
	if err != nil {
		return nil, err
	}
	for _, old := range slices.Backward(l.onReader(e)) {
		if err := l.take(e, old.Name); err != nil {
			return nil, err
		}
	}
	return c, l.putCard(e, c)
}

// Remove takes a card off the reader: the named one, or the top one
// when card is "".
func (l *Lab) Remove(name, cardName string) error {
	e, err := l.desk(name)
	if err != nil {
		return err
	}
	defer e.act.Unlock()
	on := l.onReader(e)
	if len(on) == 0 {
		return fmt.Errorf("%w: %s's reader is empty", ErrConflict, name)
	}
	if cardName == "" {
		cardName = on[len(on)-1].Name
	}
	return l.take(e, cardName)
}

// Unplug pulls the encoder's cable for good: its line closes and its
// link goes away, so the pipeline finds no device there.
func (l *Lab) Unplug(name string) error {
	e, err := l.desk(name)
	if err != nil {
		return err
	}
	defer e.act.Unlock()
	l.mu.Lock()
	s := e.sim
	e.sim, e.unplugged, e.cards, e.queued, e.silent = nil, true, nil, nil, false
	l.version++
	l.mu.Unlock()
	return s.Close()
}

// Queue sets a behaviour for the device's next command(s): busy (answer
// busy to the next n encodes), nak (NAK the next n frames), garble
// (corrupt the next n frames sent) or silent (answer nothing, ACKs
// included, until the next attempt on this encoder ends).
func (l *Lab) Queue(name, behaviour string, n int) error {
	if !slices.Contains(Behaviours, behaviour) {
		return fmt.Errorf("%w: behaviour %q: want one of %s", ErrBadInput, behaviour, strings.Join(Behaviours, ", "))
	}
	if n == 0 {
		n = 1
	}
	if n < 0 || n > 100 {
		return fmt.Errorf("%w: count %d: want 1 to 100", ErrBadInput, n)
	}
	e, err := l.desk(name)
	if err != nil {
		return err
	}
	defer e.act.Unlock()
	dev := e.sim.Device()
	label := fmt.Sprintf("%s×%d", behaviour, n)
	switch behaviour {
	case "busy":
		dev.Busy(n)
	case "nak":
		dev.NAK(n)
	case "garble":
		dev.Garble(n)
	case "silent":
		dev.Silence(true)
		label = "silent"
	}
	l.mu.Lock()
	e.queued = append(e.queued, label)
	if behaviour == "silent" {
		e.silent = true
	}
	l.version++
	l.mu.Unlock()
	return nil
}

// onReader is a copy of e's cards on the reader, bottom first.
func (l *Lab) onReader(e *encoder) []*card.Card {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(e.cards)
}

// put makes a card and puts it on e's reader. e.act is held.
func (l *Lab) put(e *encoder, spec CardSpec) (*card.Card, error) {
	c, err := l.newCard(e, spec)
	if err != nil {
		return nil, err
	}
	return c, l.putCard(e, c)
}

func (l *Lab) putCard(e *encoder, c *card.Card) error {
	if err := e.sim.Device().Place(c); err != nil {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	l.mu.Lock()
	e.cards = append(e.cards, c)
	l.version++
	l.mu.Unlock()
	return nil
}

// take removes the named card from e's reader. e.act is held.
func (l *Lab) take(e *encoder, name string) error {
	if err := e.sim.Device().Remove(name); err != nil {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	l.mu.Lock()
	e.cards = slices.DeleteFunc(e.cards, func(c *card.Card) bool { return c.Name == name })
	l.version++
	l.mu.Unlock()
	return nil
}
