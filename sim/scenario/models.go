package scenario

// The bundled device models register themselves with package model, so
// a scenario naming them loads wherever this package is used; a vendor's
// model registers from its own package the same way. The replay model is
// the format's own (ReplayModel): package replay registers it, and the
// loader knows its name without it.
import (
	_ "github.com/encoderlab/encoderlab/sim/device/acr122"
	_ "github.com/encoderlab/encoderlab/sim/device/pms"
	_ "github.com/encoderlab/encoderlab/sim/device/pn532"
)
