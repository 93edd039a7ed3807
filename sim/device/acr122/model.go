package acr122

import (
	"context"

	"github.com/encoderlab/encoderlab/sim/model"
)

// Model is the ACR122U as scenarios name it ("acr122"): a PC/SC reader
// behind a pcscd of its own, with the write and read times a scenario sets
// taken per block. Its card wait and writable technologies do not apply:
// the host waits for a card through PC/SC and decides what to write
// (docs/protocols/acr122.md).
//
// It is not registered yet: a registered model must have its scenario
// families, fault-matrix rows and a pipeline driver (docs/adding-a-model.md),
// which are still to come.
var Model = model.Model{
	Name:  "acr122",
	New:   newModel,
	Takes: []string{model.TakesWriteTime, model.TakesReadTime},
	Transport: func(ctx context.Context, s model.Settings) (model.Link, error) {
		return Open(ctx, s.Logger)
	},
	Lacks: map[string]string{
		"nak-then-retransmit": "USB carries the reader's frames with its own checks; no negative acknowledgement reaches the host",
		"busy-then-success":   "the reader has no busy state",
		"garbled-answer":      "USB checks and retries every transfer; no damaged answer reaches the host",
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
