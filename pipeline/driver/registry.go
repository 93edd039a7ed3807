package driver

import (
	"fmt"
	"slices"
	"sync"

	"github.com/encoderlab/encoderlab/timescale"
)

// New builds a protocol's driver for a time scale (1 on hardware).
type New func(timescale.Scale) Driver

var (
	registryMu sync.RWMutex
	registry   = map[string]New{}
)

// Register makes a driver known by the name a lab encoder's "driver"
// field uses. Each bundled protocol registers from its own package, as
// database/sql drivers do; a vendor's registers the same way from its
// module, or hands its constructor to one server (server.Config.Drivers).
// It panics on an empty name, a nil constructor or a name registered
// already: mistakes of the program, found at its start.
func Register(name string, newDriver New) {
	if name == "" || newDriver == nil {
		panic("driver: Register needs a name and a constructor")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("driver: %q is registered twice", name))
	}
	registry[name] = newDriver
}

// Registered returns the registered drivers' constructors by name (a
// copy the caller may change).
func Registered() map[string]New {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make(map[string]New, len(registry))
	for name, n := range registry {
		out[name] = n
	}
	return out
}

// Names lists the registered drivers, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for name := range registry {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
