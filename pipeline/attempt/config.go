package attempt

import (
	"log/slog"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// DefaultDeadline is how long an attempt may stay pending when
// Config.Deadline is zero. It is longer than the PMS driver's ACK wait plus
// its answer wait, so an encoder that answers in time always answers before
// the attempt expires.
const DefaultDeadline = 30 * time.Second

// storeTimeout bounds each store call a worker or timer makes. Those calls
// must not inherit an attempt's deadline: recording that the deadline
// passed happens after it.
const storeTimeout = 10 * time.Second

// EncoderConfig is one encoder the service drives.
type EncoderConfig struct {
	// ID is the API id (acs_encoder_id); DisplayName names it in messages.
	ID, WorkspaceID, SystemID, ConnectedAccountID, DisplayName string
	// Driver speaks the encoder's protocol.
	Driver driver.Driver
	// Port is the path of the encoder's line: any tty.
	Port string
	// Baud is the line speed.
	Baud int
}

// Config configures a Service. Zero values of the optional fields are
// replaced by the defaults documented on each.
type Config struct {
	// Store holds credentials and attempts. Required.
	Store store.Store
	// Lab supplies each ACS system's reissue policy. Required.
	Lab *fixtures.Lab
	// Encoders are the encoders to drive; ids must be unique.
	Encoders []EncoderConfig
	// Deadline is how long an attempt may stay pending; default 30 s.
	Deadline time.Duration
	// Open opens an encoder's port; default OpenPort.
	Open func(EncoderConfig) (driver.Port, error)
	// Now is the clock for attempt and credential times; default
	// time.Now. Deadlines run on real timers, so Now must keep pace with
	// the wall clock.
	Now func() time.Time
	// Logger receives the life cycle of attempts; default slog.Default().
	Logger *slog.Logger
	// Sharing, when set, makes the service one of several servers on one
	// store, with each encoder driven by the holder of its lease (see
	// Sharing). Nil: this service is the store's only user.
	Sharing *Sharing
	// Observe, when set, is told of every attempt the service creates
	// (pending, once the store has it) and of its outcome the moment it
	// is decided, before the store is written (the API shows it once the
	// store has it, or refused it, or the deadline passed; on a shared
	// store another server's outcome, recorded first, may still replace
	// it). It gets a copy, is called on the goroutine that decided,
	// and must be quick and must not call the service.
	Observe func(store.Attempt)
}

// OpenPort opens e's port as the pipeline does by default: through its
// driver where the driver opens its own (driver.Opener), else as a serial
// line at e.Baud.
func OpenPort(e EncoderConfig) (driver.Port, error) {
	if o, ok := e.Driver.(driver.Opener); ok {
		return o.Open(e.Port)
	}
	p, err := serialport.Open(e.Port, serialport.Mode{Baud: e.Baud})
	if err != nil {
		// Return a nil interface, not a nil *serialport.Port inside one.
		return nil, err
	}
	return p, nil
}
