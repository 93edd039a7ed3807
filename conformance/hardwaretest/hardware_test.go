package hardwaretest_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// desk is the hardware the run sees: one device per encoder of the lab's
// first workspace, published in a directory made before the specs are
// declared (Hardware.Ports must name them then) and served from
// BeforeSuite on.
var desk = newDesk()

var cfg = func() conformance.Config {
	c := conformance.NewConfig()
	c.Hardware = &conformance.Hardware{Ports: desk.ports, Operator: desk}
	return c
}()

var _ = conformance.Register(&cfg)

var _ = BeforeSuite(func(ctx SpecContext) {
	Expect(desk.start(ctx, cfg)).To(Succeed())
	DeferCleanup(desk.close)
})

// The run must have been a hardware run: the scenarios a person can play
// ran, each labelled for the operator, and those only a virtual encoder
// can play did not.
var _ = ReportAfterSuite("hardware scenario set", func(r Report) {
	ran := map[string]bool{}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || s.State != types.SpecStatePassed {
			continue
		}
		labels := s.Labels()
		for _, l := range labels {
			if name, ok := strings.CutPrefix(l, "scenario:"); ok {
				Expect(labels).To(ContainElement(conformance.OperatorLabel), "scenario %s", name)
				ran[name] = true
			}
		}
	}
	for _, name := range []string{"first-issue", "first-issue-vostio", "staff-credential-issue", "staff-card-refused",
		"reissue-allowed", "reissue-refused-by-system", "other-system-card", "wrong-technology", "empty-reader"} {
		Expect(ran).To(HaveKey(name), "scenario %s should run on hardware", name)
	}
	for _, name := range []string{"card-removed-mid-encode", "card-never-placed", "garbled-answer", "hangup-then-recover"} {
		Expect(ran).NotTo(HaveKey(name), "scenario %s needs a virtual encoder", name)
	}
	Expect(desk.steps()).To(BeNumerically(">=", 9), "place steps the operator performed")
})

func TestHardwarePath(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Encoder conformance on stand-in hardware")
}

// scriptedDesk owns the stand-in devices and is the run's operator: it
// carries out each step on the device, with the card the step names.
type scriptedDesk struct {
	dir    string
	ports  map[string]string // encoder display name → dir/name
	models map[string]string // encoder display name → device model

	mu       sync.Mutex
	encoders map[string]*sim.Encoder
	onReader map[string][]string // encoder → names of the cards on its reader
	done     int                 // steps performed
}

func (d *scriptedDesk) steps() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

var _ conformance.StepPerformer = (*scriptedDesk)(nil)

func newDesk() *scriptedDesk {
	dir, err := os.MkdirTemp("", "encoderlab-hardware-")
	if err != nil {
		panic(fmt.Sprintf("a directory for the stand-in devices: %v", err))
	}
	d := &scriptedDesk{dir: dir, ports: map[string]string{}, encoders: map[string]*sim.Encoder{}, onReader: map[string][]string{}, models: map[string]string{}}
	for _, e := range conformance.NewConfig().Lab.Workspaces[0].Encoders {
		d.ports[e.DisplayName] = dir + "/" + e.DisplayName
		// Each driver has a device model of the same name.
		d.models[e.DisplayName] = e.Driver
	}
	return d
}

// start serves one device per port, of the model its driver speaks to,
// with the model's own settings
// and no timeline: the operator's steps are all that happens to it.
func (d *scriptedDesk) start(ctx context.Context, cfg conformance.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name := range d.ports {
		sc := &scenario.Scenario{File: "stand-in " + name, Encoder: scenario.Encoder{Model: d.models[name], ID: name}}
		enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: d.dir, Scale: cfg.TimeScale, Logger: cfg.Logger})
		if err != nil {
			return err
		}
		d.encoders[name] = enc
	}
	return nil
}

func (d *scriptedDesk) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, enc := range d.encoders {
		if err := enc.Close(); err != nil {
			return err
		}
	}
	return os.RemoveAll(d.dir)
}

// Perform is for instructions as text, which this operator cannot read:
// the suite must hand it the structured step.
func (d *scriptedDesk) Perform(_ context.Context, instruction string) error {
	return fmt.Errorf("scripted operator got a text instruction %q; want PerformStep", instruction)
}

func (d *scriptedDesk) PerformStep(ctx context.Context, st scenario.Step, spec *scenario.CardSpec, encoder string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	enc := d.encoders[encoder]
	if enc == nil {
		return fmt.Errorf("no stand-in device for encoder %s", encoder)
	}
	dev := enc.Device()
	d.done++
	switch st.Op {
	case scenario.OpPlace:
		// Cards stack where the scenario stacks them: the suite clears
		// the reader before each scenario.
		cards, err := scenario.Cards(&scenario.Scenario{File: spec.Name, Cards: []scenario.CardSpec{*spec}})
		if err != nil {
			return err
		}
		if err := dev.Place(cards[spec.Name]); err != nil {
			return err
		}
		d.onReader[encoder] = append(d.onReader[encoder], spec.Name)
		return nil
	case scenario.OpRemove:
		if spec == nil { // clear the reader
			for _, name := range d.onReader[encoder] {
				if err := dev.Remove(name); err != nil {
					return err
				}
			}
			delete(d.onReader, encoder)
			return nil
		}
		if err := dev.Remove(spec.Name); err != nil {
			return err
		}
		d.onReader[encoder] = slices.DeleteFunc(d.onReader[encoder], func(n string) bool { return n == spec.Name })
		return nil
	}
	return fmt.Errorf("step %s is not a physical step", st.Op)
}

// The operator's instructions say what to fetch from the card stock.
var _ = Describe("hardware instructions", func() {
	It("name the card, its technology, what it holds and the encoder", func() {
		st := scenario.Step{Op: scenario.OpPlace, Card: "staff"}
		c := &scenario.CardSpec{Name: "staff", Tech: card.MifareClassic1K, UID: "04a2b3c4d5e6f7", Holds: card.Staff}
		Expect(conformance.Instruction(st, c, "front-desk-1")).To(Equal(
			"Place card 'staff' (MIFARE Classic 1K, holding a valid staff credential of this encoder's lock system; " +
				"the scenario's UID 04A2B3C4D5E6F7) on encoder front-desk-1, then press Enter"))
	})
})
