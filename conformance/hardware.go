package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// OperatorLabel marks the scenarios that need a person at the desk: with
// Config.Hardware set, every scenario container carries it, so
// --label-filter '!operator' leaves them out of an unattended run.
const OperatorLabel = "operator"

// StepPerformer is an Operator that can take a physical step as data
// instead of as a sentence: a robot arm, a card feeder, or a test that
// drives a device model. The suite calls PerformStep instead of Perform
// on an Operator that implements it.
type StepPerformer interface {
	// PerformStep carries out a place or remove step (a remove step
	// with a nil card: clear the reader of every card): card is the
	// scenario's card the step names, encoder the display name of the
	// encoder it happens at.
	PerformStep(ctx context.Context, step scenario.Step, card *scenario.CardSpec, encoder string) error
}

// HardwareCapable reports whether sc can run against a real encoder, and
// if not, why. A person can place and remove cards and the suite can
// wait, so the timeline may hold only place, remove, wait and await steps
// (an await is skipped: nothing on hardware tells the suite which command
// the device received); and a card must not be moved after an await,
// which no person can time against the device's commands. The encoder's
// own settings (card_wait, write_time, writes) belong to the device, not
// to the suite, and line faults need a virtual encoder's line.
func HardwareCapable(sc *scenario.Scenario) (bool, string) {
	if sc == nil {
		return false, "no scenario"
	}
	switch {
	case len(sc.AllEncoders()) > 1:
		return false, fmt.Sprintf("%s:%d has %d encoders: a hardware run drives one real encoder", sc.File, sc.Encoder.Line, len(sc.AllEncoders()))
	case sc.Encoder.CardWait != 0:
		return false, fmt.Sprintf("%s:%d sets the encoder's card_wait, which a real encoder does not take from the suite", sc.File, sc.Encoder.Line)
	case sc.Encoder.WriteTime != 0:
		return false, fmt.Sprintf("%s:%d sets the encoder's write_time, which a real encoder does not take from the suite", sc.File, sc.Encoder.Line)
	case sc.Encoder.ReadTime != 0:
		return false, fmt.Sprintf("%s:%d sets the encoder's read_time, which a real encoder does not take from the suite", sc.File, sc.Encoder.Line)
	case sc.Encoder.Writes != nil:
		return false, fmt.Sprintf("%s:%d restricts the technologies the encoder writes, which a real encoder does not take from the suite", sc.File, sc.Encoder.Line)
	case len(sc.Faults) > 0:
		return false, fmt.Sprintf("%s:%d applies line faults, which only a virtual encoder's line can carry", sc.File, sc.Faults[0].Line)
	}
	awaited := false
	for _, st := range sc.Steps {
		switch st.Op {
		case scenario.OpWait:
		case scenario.OpAwait:
			awaited = true
		case scenario.OpPlace, scenario.OpRemove:
			if awaited {
				return false, fmt.Sprintf("%s:%d step %d (%s %s) follows an await: a person cannot time it against the device's commands",
					sc.File, st.Line, st.Index+1, st.Op, st.Card)
			}
		case scenario.OpCredential:
			return false, fmt.Sprintf("%s:%d step %d is %s: the suite takes credential steps beside virtual encoders only", sc.File, st.Line, st.Index+1, st)
		case scenario.OpServer, scenario.OpStore:
			return false, fmt.Sprintf("%s:%d step %d is %s: it acts on a server the suite runs as a process (--target encoderd), not beside real encoders", sc.File, st.Line, st.Index+1, st)
		default:
			return false, fmt.Sprintf("%s:%d step %d is %s: only a virtual encoder can do that", sc.File, st.Line, st.Index+1, st.Op)
		}
	}
	return true, ""
}

// hardwareFilter leaves out, in a hardware run, the scenarios that cannot
// run on a real encoder (see HardwareCapable) or whose encoder has no
// port in Config.Hardware.Ports. Certified mode reports the requirements
// that only they checked.
func hardwareFilter(cfg *Config, scs []*scenario.Scenario) []*scenario.Scenario {
	if cfg.Hardware == nil {
		return scs
	}
	var out []*scenario.Scenario
	for _, sc := range scs {
		if ok, why := HardwareCapable(sc); !ok {
			cfg.Logger.Info("scenario left out of the hardware run", "scenario", sc.File, "why", why)
			continue
		}
		if cfg.Hardware.Ports[sc.Encoder.ID] == "" {
			cfg.Logger.Info("scenario left out of the hardware run", "scenario", sc.File,
				"why", "no port for encoder "+sc.Encoder.ID+" in Hardware.Ports")
			continue
		}
		out = append(out, sc)
	}
	return out
}

// attachHardware points linkDir/<encoder> at the scenario's real encoder
// for the spec, so any target finds it where it finds virtual ones, and
// returns what plays the timeline on it.
func attachHardware(cfg *Config, sc *scenario.Scenario, linkDir string, onClose func(func() error)) (func(context.Context) error, error) {
	dev := cfg.Hardware.Ports[sc.Encoder.ID]
	if dev == "" {
		return nil, fmt.Errorf("scenario %s: Hardware.Ports has no serial device for encoder %s", sc.File, sc.Encoder.ID)
	}
	link := filepath.Join(linkDir, sc.Encoder.ID)
	if err := replaceLink(dev, link); err != nil {
		return nil, fmt.Errorf("scenario %s: publishing encoder %s: %v", sc.File, sc.Encoder.ID, err)
	}
	onClose(func() error {
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing the link to encoder %s: %w", sc.Encoder.ID, err)
		}
		return nil
	})
	op := cfg.Hardware.Operator
	if op == nil {
		op = TerminalOperator(os.Stdin, os.Stdout)
	}
	return func(ctx context.Context) error { return playOnHardware(ctx, cfg, sc, op) }, nil
}

// replaceLink points path at target, replacing what is there in one
// rename so a server never finds the path missing.
func replaceLink(target, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".new"
	_ = os.Remove(tmp) // a leftover of an interrupted run
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}

// playOnHardware runs sc's timeline with op doing the physical steps:
// place and remove become instructions, waits are honoured (scaled by
// Config.TimeScale: run hardware at scale 1) and awaits are skipped.
//
// Every scenario starts with an empty reader, as the timeline assumes: the
// first instruction is to clear it (a remove step with no card, Index -1).
func playOnHardware(ctx context.Context, cfg *Config, sc *scenario.Scenario, op Operator) error {
	clear := scenario.Step{Index: -1, Op: scenario.OpRemove}
	var err error
	if sp, ok := op.(StepPerformer); ok {
		err = sp.PerformStep(ctx, clear, nil, sc.Encoder.ID)
	} else {
		err = op.Perform(ctx, Instruction(clear, nil, sc.Encoder.ID))
	}
	if err != nil {
		return &scenario.StepError{File: sc.File, Step: clear, Err: fmt.Errorf("clearing the reader: %w", err)}
	}
	onReader := 0 // cards the timeline has put on the reader
	for _, st := range sc.Steps {
		var err error
		switch st.Op {
		case scenario.OpPlace, scenario.OpRemove:
			c := cardSpec(sc, st.Card)
			if c == nil {
				err = fmt.Errorf("%w %q", scenario.ErrNoCard, st.Card)
				break
			}
			if sp, ok := op.(StepPerformer); ok {
				err = sp.PerformStep(ctx, st, c, sc.Encoder.ID)
			} else {
				say := Instruction(st, c, sc.Encoder.ID)
				if st.Op == scenario.OpPlace && onReader > 0 {
					// Stacked cards (a PN532 scenario): the first stays.
					say = strings.Replace(say, ", then press Enter", ", on top of the card already there (leave that one), then press Enter", 1)
				}
				err = op.Perform(ctx, say)
			}
			if st.Op == scenario.OpPlace {
				onReader++
			} else {
				onReader--
			}
		case scenario.OpWait:
			err = waitFor(ctx, cfg.TimeScale.Of(st.Duration))
		case scenario.OpAwait:
		default:
			err = fmt.Errorf("%s cannot run on a real encoder", st.Op)
		}
		if err != nil {
			return &scenario.StepError{File: sc.File, Step: st, Err: err}
		}
	}
	return nil
}

func cardSpec(sc *scenario.Scenario, name string) *scenario.CardSpec {
	for i := range sc.Cards {
		if sc.Cards[i].Name == name {
			return &sc.Cards[i]
		}
	}
	return nil
}

func waitFor(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// techNames are the card technologies as printed on card stock.
var techNames = map[card.Technology]string{
	card.MifareClassic1K:  "MIFARE Classic 1K",
	card.MifareClassic4K:  "MIFARE Classic 4K",
	card.MifareUltralight: "MIFARE Ultralight",
	card.DESFire:          "MIFARE DESFire",
	card.Prox125kHz:       "125 kHz proximity",
}

// holds says what a card must already hold, as a person picks it.
var holds = map[card.Kind]string{
	card.Blank:   "a blank card",
	card.Guest:   "holding a guest credential of this encoder's lock system",
	card.Staff:   "holding a valid staff credential of this encoder's lock system",
	card.Foreign: "holding a credential of another lock system",
}

// Instruction is what a person reads for a place or remove step, e.g.
// "Place card 'blank' (MIFARE Classic 1K, a blank card; the scenario's
// UID 04A1B2C3D4E5F6) on encoder front-desk-1, then press Enter".
// A remove step without a card asks for an empty reader.
func Instruction(st scenario.Step, c *scenario.CardSpec, encoder string) string {
	if c == nil {
		return fmt.Sprintf("Take every card off encoder %s, so its reader is empty, then press Enter", encoder)
	}
	tech := techNames[c.Tech]
	if tech == "" {
		tech = string(c.Tech)
	}
	kind := c.Holds
	if kind == "" {
		kind = card.Blank
	}
	what := holds[kind]
	if what == "" {
		what = "holding " + string(kind)
	}
	desc := fmt.Sprintf("card '%s' (%s, %s; the scenario's UID %s)", c.Name, tech, what, strings.ToUpper(c.UID))
	if st.Op == scenario.OpRemove {
		return fmt.Sprintf("Remove %s from encoder %s, then press Enter", desc, encoder)
	}
	return fmt.Sprintf("Place %s on encoder %s, then press Enter", desc, encoder)
}

// TerminalOperator is a person at a terminal: each instruction is written
// to out, and Enter (a line on in) says it is done. When in ends, every
// later Perform fails; ctx ends a wait.
func TerminalOperator(in io.Reader, out io.Writer) Operator {
	return &terminalOperator{in: in, out: out}
}

type terminalOperator struct {
	in  io.Reader
	out io.Writer

	start sync.Once
	lines chan struct{} // one value per line read
	// gone is closed when the input ends; goneErr then says how.
	gone    chan struct{}
	goneErr error
}

// ErrOperatorGone is returned by a TerminalOperator whose input ended.
var ErrOperatorGone = errors.New("the operator's input ended")

func (o *terminalOperator) Perform(ctx context.Context, instruction string) error {
	// One reader for the operator's lifetime: a Perform that gives up on
	// ctx must not leave a second reader racing the next one for a line.
	o.start.Do(func() {
		o.lines = make(chan struct{})
		o.gone = make(chan struct{})
		go func() {
			r := bufio.NewReader(o.in)
			for {
				if _, err := r.ReadString('\n'); err != nil {
					if errors.Is(err, io.EOF) {
						err = ErrOperatorGone
					}
					// Every later Perform sees the input's end; the reader
					// itself is done.
					o.goneErr = err
					close(o.gone)
					return
				}
				o.lines <- struct{}{}
			}
		}()
	})
	if _, err := fmt.Fprintf(o.out, "\n>>> %s\n", instruction); err != nil {
		return fmt.Errorf("prompting the operator: %w", err)
	}
	select {
	case <-o.lines:
		return nil
	case <-o.gone:
		return fmt.Errorf("waiting for the operator to %q: %w", instruction, o.goneErr)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the operator to %q: %w", instruction, ctx.Err())
	}
}
