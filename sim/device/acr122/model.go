package acr122

import (
	"context"
	"time"

	"github.com/encoderlab/encoderlab/sim/model"
)

func init() { model.Register(Model) }

// Model is the ACR122U as scenarios name it ("acr122"): a PC/SC reader
// behind a pcscd of its own, with the write and read times a scenario sets
// taken per block. Its card wait and writable technologies do not apply:
// the host waits for a card through PC/SC and decides what to write
// (docs/protocols/acr122.md).
var Model = model.Model{
	Name:  "acr122",
	New:   newModel,
	Takes: []string{model.TakesWriteTime, model.TakesReadTime},
	// The line's messages by name in traces and taps; no redactor,
	// converter, frame text or timeline (a recording of a reader stays
	// raw bytes, and a replay cannot speak vpcd's protocol).
	Protocol: &model.Protocol{NewDecoder: newDecoder},
	Transport: func(ctx context.Context, s model.Settings) (model.Link, error) {
		return Open(ctx, s.Logger)
	},
	// pcscd looks for a card every 400 ms whatever the scale: at 0.2 the
	// host's card wait (T_card, 4 s) is ten of its polls, and the
	// attempt deadline 6 s.
	MinScale: 0.2,
	Faults: &model.FaultPhases{
		Steps: map[string][]string{
			"before": {"place: blank"},
			// The host waits for pcscd to report a card and sends the
			// reader nothing: step 2 opens the window a second (scaled)
			// into that wait.
			"card-wait": {"wait: 1s", "wait: 3s", "place: blank"},
			// The first update of sector 1 (counted as encode) has
			// arrived; step 4 opens the window a second (scaled) into
			// that 2 s block write, before its answer.
			"answer": {"place: blank", "await: encode", "wait: 1s", "wait: 1ms"},
		},
		From:      map[string]int{"card-wait": 2, "answer": 4},
		WriteTime: 2 * time.Second,
		Scale:     0.2,
	},
	Lacks: map[string]string{
		"nak-then-retransmit": "USB carries the reader's frames with its own checks; no negative acknowledgement reaches the host",
		"busy-then-success":   "the reader has no busy state",
		"garbled-answer":      "USB checks and retries every transfer; no damaged answer reaches the host",
	},
}

func newModel(s model.Settings) (model.Device, model.Serve) {
	cfg := DefaultConfig().Scaled(s.Scale)
	if s.WriteTime > 0 {
		cfg.WriteTime = s.Scale.Of(s.WriteTime)
	}
	cfg.ReadTime = s.Scale.Of(s.ReadTime)
	cfg.Logger = s.Logger
	d := New(cfg)
	return d, func(ctx context.Context, l model.Line) error { return d.Serve(ctx, l) }
}
