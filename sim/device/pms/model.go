package pms

import (
	"context"
	"slices"

	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/trace"
)

func init() { model.Register(Model) }

// Model is the PMS desk encoder as scenarios name it ("pms"): at its
// protocol's defaults (docs/protocols/pms.md, Timing), with the card
// wait, write and read times and writable technologies a scenario sets.
var Model = model.Model{
	Name:       "pms",
	New:        newModel,
	Takes:      []string{model.TakesCardWait, model.TakesWriteTime, model.TakesReadTime, model.TakesWrites},
	OneCommand: true,
	Protocol: &model.Protocol{
		NewDecoder:   trace.NewPMSDecoder,
		RedactFields: trace.PMSRedactFields,
		NewRedactor:  trace.NewPMSRedactor,
	},
}

func newModel(s model.Settings) (model.Device, model.Serve) {
	cfg := DefaultConfig().Scaled(s.Scale)
	if s.CardWait > 0 {
		cfg.CardWait = s.Scale.Of(s.CardWait)
	}
	if s.WriteTime > 0 {
		cfg.WriteTime = s.Scale.Of(s.WriteTime)
	}
	cfg.ReadTime = s.Scale.Of(s.ReadTime)
	if s.Writes != nil {
		cfg.Writable = slices.Clone(s.Writes)
	}
	cfg.Logger = s.Logger
	d := New(cfg)
	return d, func(ctx context.Context, l model.Line) error { return d.Serve(ctx, l) }
}
