package replay

import (
	"context"

	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

func init() { model.Register(Model) }

// Model is the byte-level replay as scenarios name it
// (scenario.ReplayModel): the timeline drives it, so it takes nothing of
// the encoder's settings but the protocol its frame steps are in.
var Model = model.Model{
	Name:  scenario.ReplayModel,
	New:   newModel,
	Takes: []string{model.TakesProtocol},
}

func newModel(s model.Settings) (model.Device, model.Serve) {
	d := New(Config{Protocol: s.Protocol, Logger: s.Logger})
	return d, func(ctx context.Context, l model.Line) error { return d.Serve(ctx, l) }
}
