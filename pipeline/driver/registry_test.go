package driver_test

import (
	"slices"
	"testing"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	_ "github.com/encoderlab/encoderlab/pipeline/driver/pms"
	_ "github.com/encoderlab/encoderlab/pipeline/driver/pn532"
	"github.com/encoderlab/encoderlab/timescale"
)

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

// The bundled drivers register under the names lab files use; a name is
// taken once.
func TestRegistry(t *testing.T) {
	if names := driver.Names(); !slices.Contains(names, "pms") || !slices.Contains(names, "pn532") || !slices.IsSorted(names) {
		t.Fatalf("Names = %v, want pms and pn532, sorted", names)
	}
	for _, name := range []string{"pms", "pn532"} {
		if d := driver.Registered()[name](timescale.Scale(0.05)); d == nil {
			t.Errorf("the %s constructor built no driver", name)
		}
	}
	for what, f := range map[string]func(){
		"a name used twice": func() { driver.Register("pms", func(timescale.Scale) driver.Driver { return nil }) },
		"no name":           func() { driver.Register("", func(timescale.Scale) driver.Driver { return nil }) },
		"no constructor":    func() { driver.Register("test-driver", nil) },
	} {
		if !panics(f) {
			t.Errorf("Register of %s did not panic", what)
		}
	}
	m := driver.Registered()
	delete(m, "pms")
	if _, ok := driver.Registered()["pms"]; !ok {
		t.Error("changing Registered's map changed the registry")
	}
}
