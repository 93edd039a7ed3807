package sim

import (
	"context"
	"errors"
	"fmt"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// Desk is every encoder of a scenario running side by side on one set of
// cards, as at one desk: a card taken off one reader can be placed on
// another, and a timeline step acts on the encoder it names. A scenario
// of one encoder makes a desk of one. Its methods are safe for
// concurrent use.
type Desk struct {
	sc       *scenario.Scenario
	cards    map[string]*card.Card
	encoders []*Encoder
	scale    timescale.Scale
}

// StartDesk starts one virtual encoder per encoder of sc, each on a pty
// of its own published under opts.LinkDir, all sharing the scenario's
// cards. opts.Trace, when set, traces the line of the scenario's first
// encoder. ctx bounds the start only. On an error nothing is left
// running.
func StartDesk(ctx context.Context, sc *scenario.Scenario, opts Options) (*Desk, error) {
	if sc == nil {
		return nil, errors.New("sim: start desk: no scenario")
	}
	cards, err := scenario.Cards(sc)
	if err != nil {
		return nil, fmt.Errorf("sim: start desk %s: %w", sc.Name, err)
	}
	scale := opts.Scale
	if scale == 0 {
		scale = timescale.Real
	}
	d := &Desk{sc: sc, cards: cards, scale: scale}
	for i, e := range sc.AllEncoders() {
		o := opts
		if i > 0 {
			o.Trace = nil
		}
		enc, err := start(ctx, sc.On(e.ID), cards, o)
		if err != nil {
			return nil, errors.Join(err, d.Close())
		}
		d.encoders = append(d.encoders, enc)
	}
	return d, nil
}

// Encoders are the desk's encoders, in the scenario's order.
func (d *Desk) Encoders() []*Encoder { return d.encoders }

// Encoder returns the desk's encoder with that id, or nil.
func (d *Desk) Encoder(id string) *Encoder {
	for _, e := range d.encoders {
		if e.ID() == id {
			return e
		}
	}
	return nil
}

// Card returns the scenario's card with that name, or nil.
func (d *Desk) Card(name string) *card.Card { return d.cards[name] }

// Play runs the scenario's whole timeline, each step on the encoder it
// names (see scenario.PlayAll).
func (d *Desk) Play(ctx context.Context) error { return d.PlayWith(ctx, nil) }

// PlayWith is Play with the system under test that the timeline's server
// and store steps act on (see scenario.PlayWith).
func (d *Desk) PlayWith(ctx context.Context, sys scenario.System) error {
	stations := make(map[string]scenario.Station, len(d.encoders))
	for _, e := range d.encoders {
		stations[e.ID()] = scenario.Station{Device: e.Device(), Line: e}
	}
	return scenario.PlayWith(ctx, d.sc, d.cards, stations, sys, d.scale)
}

// Close stops every encoder of the desk, last started first.
func (d *Desk) Close() error {
	var errs []error
	for i := len(d.encoders) - 1; i >= 0; i-- {
		errs = append(errs, d.encoders[i].Close())
	}
	return errors.Join(errs...)
}
