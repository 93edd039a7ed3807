package pms

import (
	"context"
	"slices"
	"time"

	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/trace"
)

func init() { model.Register(Model) }

// Model is the PMS desk encoder as scenarios name it ("pms"): at its
// protocol's defaults (docs/protocols/pms.md, Timing), with the card
// wait, write and read times and writable technologies a scenario sets.
var Model = model.Model{
	Name:       "pms",
	New:        newModel,
	Takes:      []string{model.TakesCardWait, model.TakesWriteTime, model.TakesReadTime, model.TakesWrites},
	OneCommand: true,
	Protocol: &model.Protocol{
		NewDecoder:   trace.NewPMSDecoder,
		RedactFields: trace.PMSRedactFields,
		NewRedactor:  trace.NewPMSRedactor,
		NewConverter: trace.NewPMSConverter,
		Frames:       trace.PMSFrameText,
		Timeline:     trace.PMSTimeline,
	},
	Faults: &model.FaultPhases{
		Steps: map[string][]string{
			"before": {"place: blank"},
			// The CN (counted as encode) arrives with no card on the
			// reader; the window opens a second (scaled) later, at step
			// 3, well inside the card wait and after the ACK has left.
			"card-wait": {"await: encode", "wait: 1s", "wait: 4s", "place: blank"},
			// Step 4 opens the window 2 s (scaled) into a 10 s write: the
			// device has seen the card and is writing it.
			"answer": {"await: encode", "place: blank", "wait: 2s", "wait: 1ms"},
		},
		From:      map[string]int{"card-wait": 3, "answer": 4},
		WriteTime: 10 * time.Second,
		// T_ack 50 ms, attempt deadline 3 s, T_answer 4.5 s; at 0.05 a
		// race-instrumented run on a loaded 2-core machine could miss
		// four 25 ms ACK waits in a row after a reboot, which is the
		// machine and not the fault under test.
		Scale: 0.1,
	},
}

func newModel(s model.Settings) (model.Device, model.Serve) {
	cfg := DefaultConfig().Scaled(s.Scale)
	if s.CardWait > 0 {
		cfg.CardWait = s.Scale.Of(s.CardWait)
	}
	if s.WriteTime > 0 {
		cfg.WriteTime = s.Scale.Of(s.WriteTime)
	}
	cfg.ReadTime = s.Scale.Of(s.ReadTime)
	if s.Writes != nil {
		cfg.Writable = slices.Clone(s.Writes)
	}
	cfg.Logger = s.Logger
	d := New(cfg)
	return d, func(ctx context.Context, l model.Line) error { return d.Serve(ctx, l) }
}
