package pn532

import (
	"context"
	"time"

	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/trace"
)

func init() { model.Register(Model) }

// Model is the PN532 front end as scenarios name it ("pn532"): at its
// defaults, with the write and read times a scenario sets taken per
// block. Its card wait and writable technologies do not apply: the host
// polls and decides what to write (docs/protocols/pn532.md).
var Model = model.Model{
	Name:   "pn532",
	New:    newModel,
	Stacks: true,
	Takes:  []string{model.TakesWriteTime, model.TakesReadTime},
	Protocol: &model.Protocol{
		NewDecoder:   trace.NewPN532Decoder,
		RedactFields: trace.PN532RedactFields,
		NewRedactor:  trace.NewPN532Redactor,
		NewConverter: trace.NewPN532Converter,
		Frames:       trace.PN532FrameText,
		Timeline:     trace.PN532Timeline,
	},
	Faults: &model.FaultPhases{
		Steps: map[string][]string{
			"before": {"place: blank"},
			// The first InListPassiveTarget (counted as read) finds an
			// empty field; step 3 opens the window a second (scaled)
			// later, while the host polls, after that command's ACK.
			"card-wait": {"await: read", "wait: 1s", "wait: 4s", "place: blank"},
			// The first write to sector 1 (counted as encode) has
			// arrived; step 4 opens the window a second (scaled) into
			// that 2 s write: after the ACK, a second before the answer.
			"answer": {"place: blank", "await: encode", "wait: 1s", "wait: 1ms"},
		},
		From:      map[string]int{"card-wait": 3, "answer": 4},
		WriteTime: 2 * time.Second,
		// T_ack 100 ms, T_answer 2 s, attempt deadline 6 s. A frame
		// carries no sequence number, so an ACK later than T_ack makes
		// the host re-send and both copies get answered; at 0.05 (T_ack
		// 25 ms) a loaded machine's timer granularity alone, a
		// millisecond or more per paced byte, would do that, which is
		// the harness and not the fault under test.
		Scale: 0.2,
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
