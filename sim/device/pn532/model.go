package pn532

import (
	"context"

	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/trace"
)

func init() { model.Register(Model) }

// Model is the PN532 front end as scenarios name it ("pn532"): at its
// defaults, with the write and read times a scenario sets taken per
// block. Its card wait and writable technologies do not apply: the host
// polls and decides what to write (docs/protocols/pn532.md).
var Model = model.Model{
	Name:   "pn532",
	New:    newModel,
	Stacks: true,
	Takes:  []string{model.TakesWriteTime, model.TakesReadTime},
	Protocol: &model.Protocol{
		NewDecoder:   trace.NewPN532Decoder,
		RedactFields: trace.PN532RedactFields,
		NewRedactor:  trace.NewPN532Redactor,
	},
}

func newModel(s model.Settings) (model.Device, model.Serve) {
	cfg := DefaultConfig().Scaled(s.Scale)
	if s.WriteTime > 0 {
		cfg.WriteTime = s.Scale.Of(s.WriteTime)
	}
	cfg.ReadTime = s.Scale.Of(s.ReadTime)
	cfg.Logger = s.Logger
	d := New(cfg)
	return d, func(ctx context.Context, l model.Line) error { return d.Serve(ctx, l) }
}
