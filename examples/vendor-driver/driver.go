// Package vendordriver shows how an encoder vendor certifies its own
// driver with the conformance suite from its own go test: register the
// driver under a name, point the lab's encoders at that name, and run
// conformance.Test with a target that starts the bundled pipeline with
// the driver added. See README.md.
//
// The driver here is the bundled PMS driver wrapped in a vendor type, so
// the example runs against the bundled PMS virtual encoders; a vendor
// puts its own protocol code in its place.
package vendordriver

import (
	"context"
	"fmt"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/driver/pms"
	"github.com/encoderlab/encoderlab/timescale"
)

// Name is the driver's name in a lab file's encoder "driver" field.
const Name = "acme-pms"

// Driver is Acme's driver for its PMS-protocol desk encoders.
type Driver struct {
	pms *pms.Driver
}

var _ driver.Driver = (*Driver)(nil)

// New builds the driver with every protocol timeout scaled by s, as the
// server does for its built-in drivers; it is the constructor a
// server.Config.Drivers entry takes.
func New(s timescale.Scale) driver.Driver {
	return &Driver{pms: pms.New(pms.DefaultTiming().Scaled(s))}
}

// Encode writes job onto the card on the encoder's reader.
func (d *Driver) Encode(ctx context.Context, p driver.Port, job driver.Job) (driver.Card, error) {
	c, err := d.pms.Encode(ctx, p, job)
	if err != nil {
		return driver.Card{}, fmt.Errorf("acme-pms: %w", err)
	}
	return c, nil
}
