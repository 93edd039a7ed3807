package sim

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"

	// The replay model registers itself (package model); the bundled
	// device models are sim/scenario's (models.go), which this imports.
	_ "github.com/encoderlab/encoderlab/sim/replay"
)

// serveFunc speaks a model's protocol on a pty master until ctx ends or
// the line fails.
type serveFunc func(ctx context.Context, master line) error

// Models lists the device models Start can run: the registered ones
// (package model), sorted.
func Models() []string { return model.Names() }

// built is a model built for one encoder: its device, how it serves its
// line, and how its line is opened (nil: a pty).
type built struct {
	dev       scenario.Device
	serve     serveFunc
	transport func(ctx context.Context) (model.Link, error)
}

// newModel builds the registered model an encoder names, with what the
// scenario sets of it.
func newModel(enc scenario.Encoder, scale timescale.Scale, log *slog.Logger) (built, error) {
	m, ok := model.Lookup(enc.Model)
	if !ok {
		return built{}, fmt.Errorf("unknown device model %q (want one of %s)", enc.Model, strings.Join(Models(), ", "))
	}
	if m.MinScale > 0 && scale < m.MinScale {
		// Not refused: a desk may want it fast and accept that; but the
		// model's own waits do not shrink with the rest.
		log.Warn("the time scale is below the model's floor: waits it cannot shorten stay as long, and a host's scaled waits may not cover them",
			"model", m.Name, "scale", float64(scale), "floor", float64(m.MinScale))
	}
	settings := model.Settings{
		CardWait: enc.CardWait, WriteTime: enc.WriteTime, ReadTime: enc.ReadTime,
		Writes: enc.Writes, Protocol: enc.Protocol, Scale: scale, Logger: log,
	}
	dev, serve := m.New(settings)
	b := built{dev: dev, serve: func(ctx context.Context, master line) error { return serve(ctx, master) }}
	if m.Transport != nil {
		b.transport = func(ctx context.Context) (model.Link, error) { return m.Transport(ctx, settings) }
	}
	return b, nil
}
