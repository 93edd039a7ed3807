package explore

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// weighted picks one of choices, each as likely as its weight.
func weighted[T any](r *rand.Rand, choices []T, weights []int) T {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return choices[i]
		}
		n -= w
	}
	return choices[len(choices)-1]
}

// The generators' weights, as docs/explore.md lists them.
var (
	cardCounts   = []int{0, 1, 2, 3}
	cardCountW   = []int{10, 50, 30, 10}
	techs        = []string{"mifare-classic-1k", "mifare-classic-4k", "desfire", "mifare-ultralight", "prox-125khz"}
	techW        = []int{50, 15, 15, 10, 10}
	uidBytes     = []int{4, 7, 10}
	uidBytesW    = []int{40, 50, 10}
	holds        = []string{"blank", "guest", "staff", "foreign"}
	holdsW       = []int{60, 15, 10, 15}
	stepCounts   = []int{0, 1, 2, 3, 4, 5, 6, 7}
	stepCountW   = []int{5, 10, 20, 20, 15, 15, 10, 5}
	encodeCounts = []int{1, 2, 3}
	encodeCountW = []int{50, 35, 15}
	waits        = []string{"50ms", "200ms", "1s", "3s"}
	// pairChance is the chance, in percent, of a second encoder of the
	// same ACS system; concurrentChance of an encode starting beside the
	// one before it; staffChance of a staff credential where the system
	// has card functions.
	pairChance, concurrentChance, staffChance = 25, 30, 20
)

// Step operations the timeline generator draws, with their weights. Each
// is one that ends by itself: a generated timeline never waits for a
// command the pipeline may have no reason to send.
var (
	stepOps = []string{"place", "remove", "wait", "busy", "nak", "garble", "hangup", "unplug"}
	stepOpW = []int{35, 15, 20, 8, 8, 8, 4, 2}
)

// Workloads are the shapes of desk Generate draws, with their weights:
// anything (random parts throughout), a rush (one credential encoded at
// once on two encoders of one system, a blank card on each), and a queue
// (encodes queued on one encoder while the clerk restocks it).
var (
	workloads = []string{"random", "rush", "queue"}
	workloadW = []int{70, 15, 15}
)

// Options say what a desk may do beyond its encoders, as the target
// allows.
type Options struct {
	// Kill: the timeline may kill the server (server: kill), which the
	// target restarts on the same store.
	Kill bool
	// Store: the timeline may fill the disk of the server's store and
	// free it again (store: full, store: free).
	Store bool
}

// Generate builds desk i of seed on the lab's encoders: the same lab,
// seed and i give the same desk. Its timeline acts on nothing but the
// encoders; GenerateWith adds steps on the system under test.
func Generate(lab *fixtures.Lab, seed uint64, i int) (*Desk, error) {
	return GenerateWith(lab, seed, i, Options{})
}

// GenerateWith is Generate with steps on the system under test that opts
// allows, drawn from a random stream of their own and put between the
// desk's steps, so the rest of the desk is Generate's.
func GenerateWith(lab *fixtures.Lab, seed uint64, i int, opts Options) (*Desk, error) {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	var d *Desk
	switch weighted(r, workloads, workloadW) {
	case "rush":
		d = rush(r, lab, seed, i)
	case "queue":
		d = queue(r, lab, seed, i)
	}
	if d == nil {
		var err error
		if d, err = random(r, lab, seed, i); err != nil {
			return nil, err
		}
	}
	// The credential's user and validity come from a stream of their
	// own, so adding them left every other part of a seed's desks as it
	// was (the afbb00f find stays desk 24 of seed 14).
	credential(rand.New(rand.NewPCG(seed^credentialStream, uint64(i))), lab, d)
	systemSteps(rand.New(rand.NewPCG(seed^systemStream, uint64(i))), d, opts)
	return d, nil
}

// systemStream sets the random stream of the steps on the system under
// test apart from the desk's.
const systemStream = 0x7379730000000000 // "sys"

// The generator of steps on the system under test: how many events a
// desk gets, which, how long before each the timeline waits (so a kill
// lands while an encode is queued, on the line or being recorded), and
// how often a full disk is never freed.
var (
	systemEventCounts = []int{0, 1, 2}
	systemEventCountW = []int{40, 40, 20}
	systemEvents      = []string{"kill", "down", "full"}
	systemEventW      = []int{30, 25, 45}
	systemLeads       = []string{"", "50ms", "200ms", "1s"}
	systemLeadW       = []int{40, 20, 25, 15}
	neverFreedRate    = 20 // percent of full disks
)

// systemSteps puts server and store steps between the desk's steps.
func systemSteps(r *rand.Rand, d *Desk, opts Options) {
	var events []string
	if opts.Kill {
		events = append(events, "kill", "down")
	}
	if opts.Store {
		events = append(events, "full")
	}
	if len(events) == 0 {
		return
	}
	weights := make([]int, len(events))
	for k, e := range events {
		weights[k] = systemEventW[slices.Index(systemEvents, e)]
	}
	// insert puts steps at a random place of the timeline after from,
	// never inside a down spell of the server (between its stop and its
	// start, where the loader refuses a kill or another stop), and
	// returns the index after them.
	insert := func(from int, steps ...Step) int {
		var places []int
		down := false
		for k := 0; k <= len(d.Steps); k++ {
			if k >= from && !down {
				places = append(places, k)
			}
			if k < len(d.Steps) && d.Steps[k].Op == "server" {
				down = d.Steps[k].Value == "stop"
			}
		}
		at := places[r.IntN(len(places))]
		d.Steps = slices.Insert(d.Steps, at, steps...)
		return at + len(steps)
	}
	lead := func() []Step {
		if w := weighted(r, systemLeads, systemLeadW); w != "" {
			return []Step{{Op: "wait", Value: w}}
		}
		return nil
	}
	for n := weighted(r, systemEventCounts, systemEventCountW); n > 0; n-- {
		switch weighted(r, events, weights) {
		case "kill":
			insert(0, append(lead(), Step{Op: "server", Value: "kill"})...)
		case "down":
			// Killed and left down while the timeline goes on (cards
			// placed, swapped, taken away), then started again. Not
			// inside another down spell: the loader refuses a stop of a
			// stopped server.
			after := insert(0, append(lead(), Step{Op: "server", Value: "stop"})...)
			// The start goes after the stop, before the next kill or stop.
			end := len(d.Steps)
			if k := slices.IndexFunc(d.Steps[after:], func(st Step) bool { return st.Op == "server" }); k >= 0 {
				end = after + k
			}
			at := after + r.IntN(end-after+1)
			d.Steps = slices.Insert(d.Steps, at, append(lead(), Step{Op: "server", Value: "start"})...)
		case "full":
			// One full disk a desk: a second, with no free before it,
			// would be something that goes on filling the disk, taking
			// the room the store frees for what it already accepted (its
			// reserve), which no server can answer for.
			if slices.ContainsFunc(d.Steps, func(st Step) bool { return st.Op == "store" }) {
				continue
			}
			after := insert(0, append(lead(), Step{Op: "store", Value: "full"})...)
			if r.IntN(100) >= neverFreedRate {
				insert(after, append(lead(), Step{Op: "store", Value: "free"})...)
			}
		}
	}
}

// credentialStream sets the credential's random stream apart from the
// desk's.
const credentialStream = 0x6372656400000000 // "cred"

// DefaultValidity is a desk credential's validity unless the generator
// drew another: a three-night stay from now.
const DefaultValidity = "ends_in: 72h"

// The credential generator: its validity, and how often it is for
// another user of the system than the guest.
var (
	validities = []string{
		DefaultValidity,
		"starts_in: -2h, ends_in: 70h", // a stay that began before the encode
		"starts_at: 2031-03-01T14:00:00Z, ends_at: 2031-03-04T11:00:00Z", // a future stay, absolute
		"starts_at: 2024-06-01T00:00:00Z, ends_at: 2099-06-01T00:00:00Z", // a long stay, absolute, begun
		"", // no validity at all
	}
	validityW     = []int{45, 15, 15, 10, 15}
	otherUserRate = 25 // percent, where the system has another user
)

// credential draws the desk credential's user and validity.
func credential(r *rand.Rand, lab *fixtures.Lab, d *Desk) {
	d.Validity = weighted(r, validities, validityW)
	ws, _ := labEncoders(lab)
	if ws == nil {
		return
	}
	sys := ws.System(d.System)
	if sys == nil {
		return
	}
	var others []string
	for _, u := range sys.Users {
		if u.Key != "guest" {
			others = append(others, u.Key)
		}
	}
	if len(others) > 0 && r.IntN(100) < otherUserRate {
		d.User = others[r.IntN(len(others))]
	}
}

// rush: two encoders of one ACS system, a blank MIFARE Classic card on
// each, and the credential encoded on both at once; then a few random
// steps. nil when the lab has no two encoders of one system.
func rush(r *rand.Rand, lab *fixtures.Lab, seed uint64, i int) *Desk {
	_, encs := labEncoders(lab)
	var pairs [][2]*fixtures.Encoder
	for a, x := range encs {
		for _, y := range encs[a+1:] {
			if x.System == y.System {
				pairs = append(pairs, [2]*fixtures.Encoder{x, y})
			}
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	p := pairs[r.IntN(len(pairs))]
	d := &Desk{Name: fmt.Sprintf("explore-%d-%d", seed, i), System: p[0].System, Function: "guest",
		Encoders: []Encoder{{Model: p[0].Driver, ID: p[0].DisplayName}, {Model: p[1].Driver, ID: p[1].DisplayName}}}
	for k := range 2 {
		d.Cards = append(d.Cards, Card{Name: fmt.Sprintf("c%d", k+1), Tech: "mifare-classic-1k", Holds: "blank", UID: hexBytes(r, weighted(r, uidBytes, uidBytesW))})
	}
	d.Steps = []Step{{Op: "place", Value: "c1"}, {Op: "place", Value: "c2", On: p[1].DisplayName}}
	d.Encodes = []Encode{{}, {On: p[1].DisplayName, Concurrent: true}}
	if r.IntN(2) == 0 {
		d.Encodes = append(d.Encodes, Encode{On: d.onOf(r), Concurrent: r.IntN(2) == 0})
	}
	return d
}

// queue: one encoder, encodes queued on it at once, and a clerk who puts
// the first card on, waits, swaps it for a second, waits, and so on.
func queue(r *rand.Rand, lab *fixtures.Lab, seed uint64, i int) *Desk {
	_, encs := labEncoders(lab)
	if len(encs) == 0 {
		return nil
	}
	e := encs[r.IntN(len(encs))]
	d := &Desk{Name: fmt.Sprintf("explore-%d-%d", seed, i), System: e.System, Function: "guest",
		Encoders: []Encoder{{Model: e.Driver, ID: e.DisplayName}}}
	n := 2 + r.IntN(2)
	for k := range n {
		c := Card{Name: fmt.Sprintf("c%d", k+1), Tech: "mifare-classic-1k", Holds: "blank", UID: hexBytes(r, weighted(r, uidBytes, uidBytesW))}
		d.Cards = append(d.Cards, c)
		if k > 0 {
			d.Steps = append(d.Steps, Step{Op: "wait", Value: waits[1+r.IntN(2)]}, Step{Op: "remove", Value: d.Cards[k-1].Name})
		}
		d.Steps = append(d.Steps, Step{Op: "place", Value: c.Name})
		d.Encodes = append(d.Encodes, Encode{Concurrent: k > 0})
	}
	return d
}

// random draws every part at random.
func random(r *rand.Rand, lab *fixtures.Lab, seed uint64, i int) (*Desk, error) {
	ws, encs := labEncoders(lab)
	if len(encs) == 0 {
		return nil, fmt.Errorf("explore: the lab has no pms or pn532 encoder")
	}
	first := encs[r.IntN(len(encs))]
	d := &Desk{Name: fmt.Sprintf("explore-%d-%d", seed, i), System: first.System, Function: "guest"}
	d.Encoders = []Encoder{{Model: first.Driver, ID: first.DisplayName}}
	var mates []*fixtures.Encoder
	for _, e := range encs {
		if e.System == first.System && e != first {
			mates = append(mates, e)
		}
	}
	if len(mates) > 0 && r.IntN(100) < pairChance {
		m := mates[r.IntN(len(mates))]
		d.Encoders = append(d.Encoders, Encoder{Model: m.Driver, ID: m.DisplayName})
	}
	if sys := ws.System(first.System); sys != nil && sys.ExternalType == "visionline_card" && r.IntN(100) < staffChance {
		d.Function = "staff"
	}

	for n := weighted(r, cardCounts, cardCountW); len(d.Cards) < n; {
		c := Card{Name: fmt.Sprintf("c%d", len(d.Cards)+1), Tech: weighted(r, techs, techW), Holds: weighted(r, holds, holdsW)}
		c.UID = hexBytes(r, weighted(r, uidBytes, uidBytesW))
		if c.Holds == "guest" || c.Holds == "staff" {
			c.CardID = hexBytes(r, 8)
		}
		d.Cards = append(d.Cards, c)
	}
	d.Steps = timeline(r, d)
	if len(d.Encoders) == 1 {
		d.Faults = faults(r, d)
	}
	for n := weighted(r, encodeCounts, encodeCountW); len(d.Encodes) < n; {
		e := Encode{On: d.onOf(r)}
		e.Concurrent = len(d.Encodes) > 0 && r.IntN(100) < concurrentChance
		d.Encodes = append(d.Encodes, e)
	}
	return d, nil
}

// The fault generator: how many faults a desk of one encoder gets, and
// which, from the catalogue of docs/faults.md. Silence is left out: it
// only makes every attempt wait out its deadline.
var (
	faultCounts = []int{0, 1, 2}
	faultCountW = []int{75, 20, 5}
	faultKinds  = []string{"latency", "jitter", "drop", "corrupt", "chunk", "duplicate", "baud", "nak-storm", "hangup", "reboot", "card-removed"}
	faultKindW  = []int{12, 8, 10, 10, 12, 10, 6, 10, 8, 8, 6}
	faultDirs   = []string{"host>device", "device>host", "both"}
	faultAfters = []string{"0s", "200ms", "1s"}
)

// faults draws the desk's faults, each active from a moment of the run.
func faults(r *rand.Rand, d *Desk) []string {
	var out []string
	for n := weighted(r, faultCounts, faultCountW); len(out) < n; {
		kind := weighted(r, faultKinds, faultKindW)
		after := faultAfters[r.IntN(len(faultAfters))]
		dir := faultDirs[r.IntN(len(faultDirs))]
		var f string
		switch kind {
		case "latency":
			f = fmt.Sprintf("{fault: latency, d: %dms, dir: %s}", 5+r.IntN(50), dir)
		case "jitter":
			f = fmt.Sprintf("{fault: jitter, d: %dms, seed: %d, dir: %s}", 5+r.IntN(50), r.IntN(1000), dir)
		case "drop":
			f = fmt.Sprintf("{fault: drop, n: %d, dir: %s, after: %s}", 1+r.IntN(3), dir, after)
		case "corrupt":
			f = fmt.Sprintf("{fault: corrupt, at_byte: %d, dir: %s, after: %s}", r.IntN(24), dir, after)
		case "chunk":
			f = fmt.Sprintf("{fault: chunk, n: %d, dir: %s}", 1+r.IntN(4), dir)
		case "duplicate":
			f = fmt.Sprintf("{fault: duplicate, n: %d, dir: %s, after: %s}", 1+r.IntN(2), dir, after)
		case "baud":
			f = fmt.Sprintf("{fault: baud, rate: %d, dir: %s}", []int{9600, 19200, 115200}[r.IntN(3)], dir)
		case "nak-storm":
			f = fmt.Sprintf("{fault: nak-storm, n: %d, after: %s}", 1+r.IntN(3), after)
		case "hangup", "reboot":
			f = fmt.Sprintf("{fault: %s, after: %s}", kind, after)
		case "card-removed":
			// Only a card the timeline never takes away: a timeline
			// that removes a card the fault already took cannot run to
			// its end, and says nothing of the system under test.
			var free []string
			for _, c := range d.Cards {
				if !slices.ContainsFunc(d.Steps, func(st Step) bool { return st.Op == "remove" && st.Value == c.Name }) {
					free = append(free, c.Name)
				}
			}
			if len(free) == 0 {
				continue
			}
			f = fmt.Sprintf("{fault: card-removed, card: %s, after: %s}", free[r.IntN(len(free))], after)
		}
		out = append(out, f)
	}
	return out
}

// labEncoders are the encoders of the lab's first workspace that a
// device model of this suite plays.
func labEncoders(lab *fixtures.Lab) (*fixtures.Workspace, []*fixtures.Encoder) {
	if len(lab.Workspaces) == 0 {
		return nil, nil
	}
	ws := lab.Workspaces[0]
	var out []*fixtures.Encoder
	for _, e := range ws.Encoders {
		if hasDevice(e.Driver) && ws.System(e.System) != nil {
			out = append(out, e)
		}
	}
	return ws, out
}

// onOf picks an encoder of the desk: "" for the first.
func (d *Desk) onOf(r *rand.Rand) string {
	if len(d.Encoders) == 1 {
		return ""
	}
	if i := r.IntN(len(d.Encoders)); i > 0 {
		return d.Encoders[i].ID
	}
	return ""
}

// timeline draws steps the loader accepts: cards placed only where they
// fit (one on a PMS reader, any number on a PN532), removed only from
// where they lie, no device step on an unplugged encoder.
func timeline(r *rand.Rand, d *Desk) []Step {
	modelOf := map[string]string{}
	for i, e := range d.Encoders {
		id := e.ID
		if i == 0 {
			id = ""
		}
		modelOf[id] = e.Model
	}
	reader := map[string][]string{} // encoder ("" first) → cards on it
	where := map[string]string{}    // card → the encoder it lies on
	unplugged := map[string]bool{}
	var out []Step
	for n := weighted(r, stepCounts, stepCountW); len(out) < n; {
		on := d.onOf(r)
		switch op := weighted(r, stepOps, stepOpW); op {
		case "place":
			var free []string
			for _, c := range d.Cards {
				if _, lies := where[c.Name]; !lies {
					free = append(free, c.Name)
				}
			}
			if len(free) == 0 || (len(reader[on]) > 0 && !slices.Contains(scenario.StackingModels(), modelOf[on])) {
				continue
			}
			c := free[r.IntN(len(free))]
			reader[on] = append(reader[on], c)
			where[c] = on
			out = append(out, Step{Op: op, Value: c, On: on})
		case "remove":
			if len(where) == 0 {
				continue
			}
			names := make([]string, 0, len(where))
			for c := range where {
				names = append(names, c)
			}
			slices.Sort(names)
			c := names[r.IntN(len(names))]
			from := where[c]
			reader[from] = slices.DeleteFunc(reader[from], func(s string) bool { return s == c })
			delete(where, c)
			out = append(out, Step{Op: op, Value: c, On: from})
		case "wait":
			out = append(out, Step{Op: op, Value: waits[r.IntN(len(waits))]})
		default:
			if unplugged[on] {
				continue
			}
			v := "1"
			switch op {
			case "busy":
				v = fmt.Sprint(1 + r.IntN(2))
			case "hangup", "unplug":
				v = "true"
			}
			if op == "unplug" {
				unplugged[on] = true
			}
			out = append(out, Step{Op: op, Value: v, On: on})
		}
	}
	return out
}

func hexBytes(r *rand.Rand, n int) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 2*n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

// hasDevice reports whether a lab encoder's driver names a device model
// the simulator runs for it (package model), the replay aside: a replay
// plays a trace, not a desk the explorer makes up.
func hasDevice(driver string) bool {
	_, ok := model.Lookup(driver)
	return ok && driver != scenario.ReplayModel
}
