package timeline

// The bundled models register the protocols the tests' traces are in.
import (
	_ "github.com/encoderlab/encoderlab/sim/device/pms"
	_ "github.com/encoderlab/encoderlab/sim/device/pn532"
)
