package sim

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/encoderlab/encoderlab/sim/device/pms"
	"github.com/encoderlab/encoderlab/sim/device/pn532"
	"github.com/encoderlab/encoderlab/sim/replay"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// serveFunc speaks a model's protocol on a pty master until ctx ends or
// the line fails.
type serveFunc func(ctx context.Context, master line) error

// modelFunc builds a device model for a scenario's encoder.
type modelFunc func(enc scenario.Encoder, scale timescale.Scale, log *slog.Logger) (scenario.Device, serveFunc)

// models are the device models an encoder may name (scenario.Models).
var models = map[string]modelFunc{
	"pms":    newPMS,
	"pn532":  newPN532,
	"replay": newReplay,
}

// Models lists the device models Start can run, sorted.
func Models() []string {
	out := make([]string, 0, len(models))
	for name := range models {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func newModel(enc scenario.Encoder, scale timescale.Scale, log *slog.Logger) (scenario.Device, serveFunc, error) {
	m, ok := models[enc.Model]
	if !ok {
		return nil, nil, fmt.Errorf("unknown device model %q (want one of %v)", enc.Model, Models())
	}
	dev, serve := m(enc, scale, log)
	return dev, serve, nil
}

// newPMS is the PMS encoder at its protocol defaults, with the scenario's
// overrides.
func newPMS(enc scenario.Encoder, scale timescale.Scale, log *slog.Logger) (scenario.Device, serveFunc) {
	cfg := pms.DefaultConfig().Scaled(scale)
	if enc.CardWait > 0 {
		cfg.CardWait = scale.Of(enc.CardWait)
	}
	if enc.WriteTime > 0 {
		cfg.WriteTime = scale.Of(enc.WriteTime)
	}
	cfg.ReadTime = scale.Of(enc.ReadTime)
	if enc.Writes != nil {
		cfg.Writable = slices.Clone(enc.Writes)
	}
	cfg.Logger = log
	d := pms.New(cfg)
	return d, func(ctx context.Context, master line) error { return d.Serve(ctx, master) }
}

// newPN532 is the PN532 front end at its defaults. The scenario's write
// and read times are the times to write and read one block; its card wait and writable
// technologies do not apply (the host polls and decides what to write).
func newPN532(enc scenario.Encoder, scale timescale.Scale, log *slog.Logger) (scenario.Device, serveFunc) {
	cfg := pn532.DefaultConfig().Scaled(scale)
	if enc.WriteTime > 0 {
		cfg.WriteTime = scale.Of(enc.WriteTime)
	}
	cfg.ReadTime = scale.Of(enc.ReadTime)
	cfg.Logger = log
	d := pn532.New(cfg)
	return d, func(ctx context.Context, master line) error { return d.Serve(ctx, master) }
}

// newReplay plays the scenario's byte-level steps back (sim/replay); the
// timeline drives it, so it has no settings of its own but the protocol
// its frame steps are in.
func newReplay(enc scenario.Encoder, _ timescale.Scale, log *slog.Logger) (scenario.Device, serveFunc) {
	d := replay.New(replay.Config{Protocol: enc.Protocol, Logger: log})
	return d, func(ctx context.Context, master line) error { return d.Serve(ctx, master) }
}
