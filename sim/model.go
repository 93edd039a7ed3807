package sim

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"

	// The bundled device models register themselves (package model).
	_ "github.com/encoderlab/encoderlab/sim/device/pms"
	_ "github.com/encoderlab/encoderlab/sim/device/pn532"
	_ "github.com/encoderlab/encoderlab/sim/replay"
)

// serveFunc speaks a model's protocol on a pty master until ctx ends or
// the line fails.
type serveFunc func(ctx context.Context, master line) error

// Models lists the device models Start can run: the registered ones
// (package model), sorted.
func Models() []string { return model.Names() }

// newModel builds the registered model an encoder names, with what the
// scenario sets of it.
func newModel(enc scenario.Encoder, scale timescale.Scale, log *slog.Logger) (scenario.Device, serveFunc, error) {
	m, ok := model.Lookup(enc.Model)
	if !ok {
		return nil, nil, fmt.Errorf("unknown device model %q (want one of %s)", enc.Model, strings.Join(Models(), ", "))
	}
	dev, serve := m.New(model.Settings{
		CardWait: enc.CardWait, WriteTime: enc.WriteTime, ReadTime: enc.ReadTime,
		Writes: enc.Writes, Protocol: enc.Protocol, Scale: scale, Logger: log,
	})
	return dev, func(ctx context.Context, master line) error { return serve(ctx, master) }, nil
}
