package vendordriver_test

import (
	"slices"
	"testing"

	"github.com/encoderlab/encoderlab/conformance"
	vendordriver "github.com/encoderlab/encoderlab/examples/vendor-driver"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/timescale"
)

// TestCertifyDriver runs the conformance suite on the bundled pipeline
// with every encoder of the lab driven by the vendor's driver, against
// the bundled PMS virtual encoders.
func TestCertifyDriver(t *testing.T) {
	cfg := conformance.NewConfig()

	// Every encoder of the lab speaks through the vendor's driver.
	for _, ws := range cfg.Lab.Workspaces {
		for i := range ws.Encoders {
			ws.Encoders[i].Driver = vendordriver.Name
		}
	}
	cfg.Target = conformance.InProcessWith(func(c *server.Config) {
		c.Drivers = map[string]func(timescale.Scale) driver.Driver{vendordriver.Name: vendordriver.New}
	})

	// A handful of scenarios keeps this example quick; a certification
	// run leaves Scenarios nil (every bundled scenario) and sets
	// Certified.
	all, err := scenarios.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		if slices.Contains([]string{"first-issue", "empty-reader", "nak-then-retransmit", "staff-card-refused", "hangup-then-recover"}, sc.Name) {
			cfg.Scenarios = append(cfg.Scenarios, sc)
		}
	}

	conformance.Test(t, cfg)
}
