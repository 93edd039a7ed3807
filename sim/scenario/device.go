package scenario

import (
	"context"

	"github.com/encoderlab/encoderlab/sim/model"
)

// Device is what a timeline acts on: a device model, seen through the
// physical events and behaviours a scenario can ask for (model.Device).
type Device = model.Device

// Line is the serial line a device sits on.
type Line interface {
	// Hangup closes the line, as unplugging the encoder would, and
	// reopens it under the same path.
	Hangup(ctx context.Context) error
	// Unplug closes the line for good, as pulling the encoder's cable
	// would: its path goes away and nothing answers there again.
	Unplug(ctx context.Context) error
}
