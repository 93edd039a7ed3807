package scenario

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/model"
)

// Models lists the device models an encoder may name: the registered
// ones (package model) and the replay model, which the format itself
// defines (byte-level steps), sorted.
func Models() []string {
	names := model.Names()
	if !slices.Contains(names, ReplayModel) {
		names = append(names, ReplayModel)
		slices.Sort(names)
	}
	return names
}

// StackingModels are the models whose field holds several cards at once,
// so that a scenario may place a second card before removing the first
// (model.Model.Stacks): a PN532 sees every card its field reaches
// (docs/protocols/pn532.md, "Several cards"); a PMS encoder's slot takes
// one card (docs/protocols/pms.md, "One card at a time").
func StackingModels() []string {
	var out []string
	for _, name := range model.Names() {
		if m, _ := model.Lookup(name); m.Stacks {
			out = append(out, name)
		}
	}
	return out
}

// Ops lists every timeline operation, in the order the format documents them.
var Ops = []Op{OpPlace, OpRemove, OpWait, OpAwait, OpReply, OpSilence, OpNAK, OpGarble, OpBusy, OpHangup, OpUnplug, OpServer, OpStore, OpCredential, OpExpect, OpSend}

// Unknown is the value of an encode's acs_encoder_id or acs_credential_id
// that stands for a well-formed id naming nothing.
const Unknown = "unknown"

// Problem is one thing wrong in a scenario file, at a 1-based position
// (0 when the file has no usable position, as for an empty file).
type Problem struct {
	Line, Column int
	Msg          string
}

func (p Problem) String() string { return fmt.Sprintf("%d:%d: %s", p.Line, p.Column, p.Msg) }

// LoadError lists every problem found in a scenario file, in file order.
type LoadError struct {
	File     string
	Problems []Problem
}

// Error prints one "file:line:col: msg" per problem.
func (e *LoadError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%s", e.File, p)
	}
	return b.String()
}

// LoadFile reads and loads the scenario file at path.
func LoadFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Load(path, data)
}

// Load parses a scenario file. file names it in errors and becomes
// Scenario.File. Every problem in the file is reported, as a *LoadError.
func Load(file string, data []byte) (*Scenario, error) {
	root, problems := parseYAML(data)
	if len(problems) > 0 {
		return nil, &LoadError{File: file, Problems: problems}
	}
	l := &loader{}
	s := l.scenario(root)
	if len(l.problems) > 0 {
		slices.SortStableFunc(l.problems, func(a, b Problem) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		})
		return nil, &LoadError{File: file, Problems: l.problems}
	}
	s.File = file
	return s, nil
}

// Cards builds the cards a scenario declares, keyed by name, holding what
// their specs say. A loaded scenario's cards always build; a scenario
// made by hand may not.
func Cards(s *Scenario) (map[string]*card.Card, error) {
	out := make(map[string]*card.Card, len(s.Cards))
	var errs []error
	for _, spec := range s.Cards {
		c := card.Contents{Kind: spec.Holds, CardID: spec.CardID}
		switch spec.Holds {
		case card.Guest:
			c.Function = "G"
		case card.Staff:
			c.Function = "S"
		}
		k, err := card.New(spec.Name, spec.Tech, spec.UID, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := out[spec.Name]; dup {
			errs = append(errs, fmt.Errorf("card %q is declared twice", spec.Name))
			continue
		}
		out[spec.Name] = k
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("scenario %q: %w", s.File, err)
	}
	return out, nil
}

var (
	namePattern      = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	refPattern       = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	coverPattern     = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	errorTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

func (l *loader) scenario(root *yaml.Node) *Scenario {
	s := &Scenario{}
	f := l.fields(root, "scenario", "name", "description", "covers", "family", "encoder", "encoders", "cards",
		"credential", "steps", "expect", "encodes", "commands", "faults")
	if root.Kind != yaml.MappingNode {
		return s
	}
	if n, ok := f["name"]; !ok {
		l.addf(root, "name is required")
	} else if v, ok := l.str(n, "name"); ok {
		if !namePattern.MatchString(v) {
			l.addf(n, "name %q must be lower-case letters, digits and single dashes", v)
		}
		s.Name = v
	}
	if n, ok := f["description"]; ok {
		s.Description, _ = l.str(n, "description")
	}
	if n, ok := f["covers"]; ok {
		for _, c := range l.list(n, "covers") {
			if v, ok := l.str(c, "covers entry"); ok {
				if !coverPattern.MatchString(v) {
					l.addf(c, "covers entry %q must be a requirement id (letters, digits, '.', '_', '-')", v)
				}
				s.Covers = append(s.Covers, v)
			}
		}
	}
	if n, ok := f["family"]; ok {
		s.Family, _ = l.oneOf(n, "family", "family", Families)
	}
	one, hasOne := f["encoder"]
	many, hasMany := f["encoders"]
	switch {
	case hasOne && hasMany:
		l.addf(many, "encoder and encoders are exclusive: give one encoder, or a list of them")
	case hasOne:
		s.Encoders = []Encoder{l.encoder(one, "encoder", false)}
	case hasMany:
		s.Encoders = l.encoders(many)
	default:
		l.addf(root, "encoder is required")
	}
	if len(s.Encoders) > 0 {
		s.Encoder = s.Encoders[0]
	}
	declared := map[string]bool{}
	if n, ok := f["cards"]; ok {
		s.Cards = l.cards(n)
		for _, c := range s.Cards {
			declared[c.Name] = true
		}
	}
	if n, ok := f["credential"]; !ok {
		l.addf(root, "credential is required")
	} else {
		s.Credential = l.credential(n)
	}
	if n, ok := f["steps"]; ok {
		l.protocol = s.Encoder.Protocol
		s.Steps = l.steps(n, declared, s.Encoders)
		for _, st := range s.Steps {
			if st.Op == OpCredential && s.Credential.Refused != nil {
				l.addf(n, "step %d (credential): the scenario expects its credential refused, so there is none to act on", st.Index+1)
			}
		}
	}
	l.checkBytes(s)
	if n, ok := f["faults"]; ok {
		if len(s.Encoders) > 1 {
			l.addf(n, "faults apply to a scenario of one encoder; this one has %d", len(s.Encoders))
		}
		s.Faults = l.faults(n, s.Cards, len(s.Steps))
	}
	expect, hasExpect := f["expect"]
	encodes, hasEncodes := f["encodes"]
	switch {
	case s.Credential.Refused != nil && (hasExpect || hasEncodes):
		at := expect
		if hasEncodes {
			at = encodes
		}
		l.addf(at, "credential.expect refuses the credential's creation, so there is nothing to encode: leave out expect and encodes")
	case s.Credential.Refused != nil:
	case hasExpect && hasEncodes:
		l.addf(encodes, "expect and encodes are exclusive: give one encode's expect, or a list of encodes")
	case !hasExpect && !hasEncodes:
		l.addf(root, "expect or encodes is required")
	}
	ids := map[string]bool{}
	for _, e := range s.Encoders {
		ids[e.ID] = true
	}
	// Both are read even when exclusive, to report the problems inside them too.
	if hasExpect {
		s.Encodes = []Encode{{Expect: l.expect(expect, declared, false), Line: expect.Line}}
	}
	if hasEncodes {
		items := l.list(encodes, "encodes")
		if encodes.Kind == yaml.SequenceNode && len(items) == 0 {
			l.addf(encodes, "encodes must list at least one encode")
		}
		for i, it := range items {
			s.Encodes = append(s.Encodes, l.encode(it, i, declared, ids))
		}
	}
	if n, ok := f["commands"]; ok {
		if hasMany {
			l.addf(n, "with several encoders, give each its own: encoders[].commands")
		} else if len(s.Encoders) > 0 {
			s.Encoders[0].Commands = l.commands(n, "commands")
			s.Encoder = s.Encoders[0]
		}
	}
	if s.Credential.Refused != nil {
		s.Encodes = nil
	}
	return s
}

// encoders reads a list of encoders, each with an id of its own.
func (l *loader) encoders(n *yaml.Node) []Encoder {
	var out []Encoder
	seen := map[string]int{}
	items := l.list(n, "encoders")
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		l.addf(n, "encoders must list at least one encoder")
	}
	for i, it := range items {
		e := l.encoder(it, fmt.Sprintf("encoders[%d]", i), true)
		if first, dup := seen[e.ID]; dup && e.ID != "" {
			l.addf(it, "encoders[%d]: encoder %q is listed twice (first at line %d)", i, e.ID, first)
		}
		seen[e.ID] = it.Line
		out = append(out, e)
	}
	return out
}

// commands reads a mapping of command counts.
func (l *loader) commands(n *yaml.Node, what string) map[string]int {
	out := map[string]int{}
	for _, kv := range l.pairs(n, what) {
		k, v := kv[0], kv[1]
		if !slices.Contains(Commands, k.Value) {
			l.addf(k, "%s: unknown command %q (want one of %s)", what, k.Value, strings.Join(Commands, ", "))
			continue
		}
		if c, ok := l.integer(v, what+"."+k.Value); ok {
			if c < 0 {
				l.addf(v, "%s.%s must not be negative, got %d", what, k.Value, c)
			}
			out[k.Value] = c
		}
	}
	return out
}

// encoder reads one encoder; what names it in messages ("encoder",
// "encoders[1]"), and listed says whether it may carry its commands.
func (l *loader) encoder(n *yaml.Node, what string, listed bool) Encoder {
	e := Encoder{Line: n.Line}
	known := []string{"model", "id", "card_wait", "write_time", "read_time", "writes", "protocol"}
	if listed {
		known = append(known, "commands")
	}
	f := l.fields(n, what, known...)
	if n.Kind != yaml.MappingNode {
		return e
	}
	e.IDAt, e.ModelAt = pos(n), pos(n)
	if v, ok := f["model"]; !ok {
		l.addf(n, "%s.model is required", what)
	} else {
		e.ModelAt = pos(v)
		e.Model, _ = l.oneOf(v, what+".model", "model", Models())
	}
	if v, ok := f["id"]; !ok {
		l.addf(n, "%s.id is required", what)
	} else if id, ok := l.str(v, what+".id"); ok {
		e.IDAt = pos(v)
		if strings.TrimSpace(id) == "" {
			l.addf(v, "%s.id must not be empty", what)
		}
		e.ID = id
	}
	if v, ok := f["protocol"]; ok {
		e.ProtocolAt = pos(v)
		e.Protocol, _ = l.oneOf(v, what+".protocol", "protocol", ReplayProtocols())
	}
	if v, ok := f["card_wait"]; ok {
		e.CardWait = l.duration(v, what+".card_wait", false)
	}
	if v, ok := f["write_time"]; ok {
		e.WriteTime = l.duration(v, what+".write_time", false)
	}
	if v, ok := f["read_time"]; ok {
		e.ReadTime = l.duration(v, what+".read_time", false)
	}
	if v, ok := f["writes"]; ok {
		items := l.list(v, what+".writes")
		e.Writes = []card.Technology{}
		for _, it := range items {
			if t, ok := l.oneOf(it, what+".writes", "technology", names(card.Technologies)); ok {
				e.Writes = append(e.Writes, card.Technology(t))
			}
		}
	}
	if v, ok := f["commands"]; ok {
		e.Commands = l.commands(v, what+".commands")
	}
	return e
}

func (l *loader) cards(n *yaml.Node) []CardSpec {
	var out []CardSpec
	for _, kv := range l.pairs(n, "cards") {
		k, v := kv[0], kv[1]
		if !refPattern.MatchString(k.Value) {
			l.addf(k, "card name %q must be letters, digits, '_' and '-'", k.Value)
		}
		spec := CardSpec{Name: k.Value, Holds: card.Blank, Line: k.Line}
		what := "card " + k.Value
		f := l.fields(v, what, "tech", "uid", "holds", "card_id")
		if v.Kind != yaml.MappingNode {
			out = append(out, spec)
			continue
		}
		if t, ok := f["tech"]; !ok {
			l.addf(v, "%s: tech is required", what)
		} else if s, ok := l.oneOf(t, what+": tech", "technology", names(card.Technologies)); ok {
			spec.Tech = card.Technology(s)
		}
		if u, ok := f["uid"]; !ok {
			l.addf(v, "%s: uid is required", what)
		} else if s, ok := l.text(u, what+": uid"); ok {
			b, err := hex.DecodeString(s)
			if err != nil || (len(b) != 4 && len(b) != 7 && len(b) != 10) {
				l.addf(u, "%s: uid %q must be 4, 7 or 10 bytes of hex (8, 14 or 20 digits)", what, s)
			}
			spec.UID = strings.ToUpper(s)
		}
		if h, ok := f["holds"]; ok {
			if s, ok := l.oneOf(h, what+": holds", "content", names(card.Kinds)); ok {
				spec.Holds = card.Kind(s)
			}
		}
		if c, ok := f["card_id"]; ok {
			if s, ok := l.text(c, what+": card_id"); ok {
				if b, err := hex.DecodeString(s); err != nil || len(b) != 8 {
					l.addf(c, "%s: card_id %q must be 16 hex digits", what, s)
				}
				if spec.Holds != card.Guest && spec.Holds != card.Staff {
					l.addf(c, "%s: card_id needs holds: guest or staff (a %s card has no credential)", what, spec.Holds)
				}
				spec.CardID = strings.ToUpper(s)
			}
		}
		out = append(out, spec)
	}
	return out
}

// AccessMethods are the access_method values of a credential.
var AccessMethods = []string{"card", "code", "mobile_key"}

func (l *loader) credential(n *yaml.Node) Credential {
	c := Credential{User: "guest", Function: "guest", AccessMethod: "card", Line: n.Line}
	f := l.fields(n, "credential", "system", "user", "function", "access_method", "code",
		"starts_in", "ends_in", "starts_at", "ends_at", "expect")
	if n.Kind != yaml.MappingNode {
		return c
	}
	c.SystemAt = pos(n)
	if v, ok := f["system"]; !ok {
		l.addf(n, "credential.system is required")
	} else if s, ok := l.str(v, "credential.system"); ok {
		c.SystemAt = pos(v)
		if s == "" {
			l.addf(v, "credential.system must not be empty")
		}
		c.System = s
	}
	if v, ok := f["user"]; ok {
		c.UserAt = pos(v)
		if s, ok := l.str(v, "credential.user"); ok {
			if s == "" {
				l.addf(v, "credential.user must not be empty")
			}
			c.User = s
		}
	}
	if v, ok := f["function"]; ok {
		if s, ok := l.oneOf(v, "credential.function", "function", []string{"guest", "staff"}); ok {
			c.Function = s
		}
	}
	if v, ok := f["access_method"]; ok {
		if s, ok := l.oneOf(v, "credential.access_method", "access method", AccessMethods); ok {
			c.AccessMethod = s
		}
	}
	if v, ok := f["code"]; ok {
		if s, ok := l.text(v, "credential.code"); ok {
			c.Code = s
		}
	}
	var refused *yaml.Node
	if v, ok := f["expect"]; ok {
		refused = v
		x := l.expect(v, nil, false)
		if x.HTTPStatus == 200 {
			l.addf(v, "credential.expect is a refusal of the credential's creation: give its http_status (400, say) and error.type; leave it out for a credential that is made")
		}
		c.Refused = &x
	}
	if v, ok := f["starts_in"]; ok {
		c.StartsIn = l.duration(v, "credential.starts_in", true)
	}
	if v, ok := f["starts_at"]; ok {
		if _, dup := f["starts_in"]; dup {
			l.addf(v, "credential.starts_at and starts_in are exclusive: give an absolute time or an offset from now")
		}
		c.StartsAt = l.instant(v, "credential.starts_at")
	}
	end, hasEnd := f["ends_in"]
	if hasEnd {
		c.EndsIn = l.duration(end, "credential.ends_in", true)
	}
	if v, ok := f["ends_at"]; ok {
		if hasEnd {
			l.addf(v, "credential.ends_at and ends_in are exclusive: give an absolute time or an offset from now")
		}
		end, hasEnd = v, true
		c.EndsAt = l.instant(v, "credential.ends_at")
	}
	// A credential made with its end before its start is refused; a
	// scenario that expects that refusal may say so.
	if hasEnd && refused == nil {
		switch {
		case c.EndsIn != 0 && c.StartsAt.IsZero() && c.EndsIn <= c.StartsIn:
			l.addf(end, "credential.ends_in (%s) must come after starts_in (%s)", c.EndsIn, c.StartsIn)
		case !c.EndsAt.IsZero() && !c.StartsAt.IsZero() && !c.EndsAt.After(c.StartsAt):
			l.addf(end, "credential.ends_at (%s) must come after starts_at (%s)", c.EndsAt.Format(time.RFC3339), c.StartsAt.Format(time.RFC3339))
		}
	}
	return c
}

// deviceOps are the operations that need an encoder on its line, which
// an unplugged one no longer has.
var deviceOps = []Op{OpReply, OpSilence, OpNAK, OpGarble, OpBusy, OpHangup, OpUnplug, OpExpect, OpSend}

func (l *loader) steps(n *yaml.Node, declared map[string]bool, encoders []Encoder) []Step {
	var out []Step
	modelOf := map[string]string{}
	for _, e := range encoders {
		modelOf[e.ID] = e.Model
	}
	stacking := StackingModels()
	first := ""
	if len(encoders) > 0 {
		first = encoders[0].ID
	}
	onReader := map[string][]string{} // per encoder, the cards on its reader as the timeline goes
	readerOf := map[string]string{}   // per card on a reader, that encoder
	unplugged := map[string]int{}     // per unplugged encoder, the step that unplugged it
	stoppedAt := 0                    // the step that stopped the server, 0 while it runs
	var prev *Step                    // the previous step, nil if unusable
	for i, it := range l.list(n, "steps") {
		st, opAt, valueAt, ok := l.step(it, i)
		if !ok {
			prev = nil
			continue
		}
		what := fmt.Sprintf("step %d (%s)", i+1, st.Op)
		if st.Op == OpCredential {
			if st.On != "" {
				l.addf(it, "%s: on: a credential step acts on the scenario's credential, not on an encoder; leave on: out", what)
			}
		}
		if slices.Contains(SystemOps, st.Op) {
			if st.On != "" {
				l.addf(it, "%s: on: a %s step acts on the system under test, not on an encoder; leave on: out", what, st.Op)
			}
			switch {
			case st.Op != OpServer:
			case st.Act == ServerStart && stoppedAt == 0:
				l.addf(valueAt, "%s: the server is running; start only follows a server: stop", what)
			case st.Act == ServerStart:
				stoppedAt = 0
			case stoppedAt > 0:
				l.addf(valueAt, "%s: the server was stopped at step %d; start it first (server: start)", what, stoppedAt)
			case st.Act == ServerStop:
				stoppedAt = i + 1
			}
			prev = &st
			out = append(out, st)
			continue
		}
		id := st.On
		if id == "" {
			id = first
		} else if _, known := modelOf[id]; !known && len(encoders) > 0 {
			l.addf(it, "%s: on: the scenario has no encoder %q", what, id)
		}
		if at, gone := unplugged[id]; gone && (slices.Contains(deviceOps, st.Op) || (st.Op == OpAwait && st.Awaits != AwaitWritten)) {
			l.addf(opAt, "%s: encoder %s was unplugged at step %d; nothing on its line answers any more", what, id, at)
		}
		switch st.Op {
		case OpPlace, OpRemove:
			if !declared[st.Card] {
				l.addf(valueAt, "%s: no card named %q in cards", what, st.Card)
			}
			cards := onReader[id]
			on := slices.Index(cards, st.Card)
			where, elsewhere := readerOf[st.Card]
			switch {
			case st.Op == OpPlace && elsewhere && where != id:
				l.addf(valueAt, "%s: card %q is on %s's reader; remove it first", what, st.Card, where)
			case st.Op == OpPlace && on >= 0:
				l.addf(valueAt, "%s: card %q is already on the reader", what, st.Card)
			case st.Op == OpPlace && len(cards) > 0 && !slices.Contains(stacking, modelOf[id]):
				l.addf(valueAt, "%s: card %q is already on the reader; remove it first (only a %s encoder holds several cards)",
					what, cards[0], strings.Join(stacking, " or "))
			case st.Op == OpPlace:
				onReader[id] = append(cards, st.Card)
				readerOf[st.Card] = id
			case on < 0:
				l.addf(valueAt, "%s: card %q is not on the reader (place it first)", what, st.Card)
			default:
				onReader[id] = slices.Delete(cards, on, on+1)
				delete(readerOf, st.Card)
			}
		case OpAwait:
			if st.Awaits == AwaitWritten && !declared[st.Card] {
				l.addf(valueAt, "%s: no card named %q in cards", what, st.Card)
			}
		case OpReply:
			switch {
			case prev == nil || prev.Op != OpAwait || prev.Awaits != AwaitCommand:
				l.addf(opAt, "%s: reply must come directly after an await of a command", what)
			case prev.On != st.On:
				l.addf(opAt, "%s: reply must be on the encoder of the await before it", what)
			}
		case OpUnplug:
			unplugged[id] = i + 1
		}
		prev = &st
		out = append(out, st)
	}
	if stoppedAt > 0 {
		l.addf(n, "steps: the server stopped at step %d is never started again; end the timeline with server: start", stoppedAt)
	}
	return out
}

// opDelay is another name for OpWait, as recorded traces speak of the
// gaps between chunks.
const opDelay Op = "delay"

// step reads one timeline entry: a mapping with a single operation, and
// the encoder it acts on when the scenario has several.
// It returns the operation's key and value nodes, for positions.
func (l *loader) step(n *yaml.Node, i int) (Step, *yaml.Node, *yaml.Node, bool) {
	what := fmt.Sprintf("step %d", i+1)
	st := Step{Index: i, Line: n.Line, Column: n.Column}
	if n.Kind != yaml.MappingNode {
		l.addf(n, "%s must be a mapping of one operation such as {place: card}, got %s", what, describe(n))
		return st, nil, nil, false
	}
	var k, v *yaml.Node
	ops := 0
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == "on" {
			if id, ok := l.str(n.Content[j+1], what+": on"); ok {
				st.On = id
			}
			continue
		}
		ops++
		k, v = n.Content[j], n.Content[j+1]
	}
	switch {
	case ops == 0:
		l.addf(n, "%s must have an operation such as {place: card}", what)
		return st, nil, nil, false
	case ops > 1:
		l.addf(n, "%s must have exactly one operation, got %d (on: may name its encoder beside it)", what, ops)
		return st, nil, nil, false
	}
	st.Op = Op(k.Value)
	if st.Op == opDelay {
		// A trace's gaps read as delays; they are waits like any other.
		st.Op = OpWait
	}
	ok := true
	switch st.Op {
	case OpPlace, OpRemove:
		st.Card, ok = l.str(v, what+": "+k.Value)
	case OpWait:
		before := len(l.problems)
		st.Duration = l.duration(v, what+": wait", false)
		ok = len(l.problems) == before
	case OpAwait:
		ok = l.await(v, what, &st)
	case OpReply:
		st.Answer, ok = l.oneOf(v, what+": reply", "answer", Answers)
	case OpSilence:
		st.Silent, ok = l.boolean(v, what+": silence")
	case OpNAK, OpGarble, OpBusy:
		st.Count, ok = l.integer(v, what+": "+k.Value)
		if ok && st.Count < 1 {
			l.addf(v, "%s: %s must be at least 1, got %d", what, k.Value, st.Count)
			ok = false
		}
	case OpExpect, OpSend:
		st.Bytes, ok = l.bytesStep(v, what+": "+k.Value, st.Op)
	case OpHangup, OpUnplug:
		var on bool
		on, ok = l.boolean(v, what+": "+k.Value)
		if ok && !on {
			l.addf(v, "%s: %s takes true (leave the step out to not %s)", what, k.Value, strings.Replace(k.Value, "hangup", "hang up", 1))
			ok = false
		}
	case OpServer:
		st.Act, ok = l.oneOf(v, what+": server", "action", []string{ServerKill, ServerStop, ServerStart})
	case OpStore:
		st.Act, ok = l.oneOf(v, what+": store", "state", []string{StoreFull, StoreFree})
	case OpCredential:
		st.Act, ok = l.oneOf(v, what+": credential", "action", []string{CredentialDelete})
	default:
		l.addf(k, "%s: unknown operation %q (want one of %s)", what, k.Value, strings.Join(names(Ops), ", "))
		return st, nil, nil, false
	}
	return st, k, v, ok
}

// await reads an await step's value: a command kind (its arrival), or
// {answer: kind} or {written: card}.
func (l *loader) await(v *yaml.Node, what string, st *Step) bool {
	if v.Kind != yaml.MappingNode {
		var ok bool
		st.Command, ok = l.oneOf(v, what+": await", "command", Commands)
		return ok
	}
	f := l.fields(v, what+": await", AwaitAnswer, AwaitWritten)
	if len(f) != 1 {
		if len(v.Content) == 0 || len(f) > 1 {
			l.addf(v, "%s: await takes one of {answer: command} or {written: card}", what)
		}
		return false
	}
	if n, ok := f[AwaitAnswer]; ok {
		st.Awaits = AwaitAnswer
		var good bool
		st.Command, good = l.oneOf(n, what+": await answer", "command", Commands)
		return good
	}
	st.Awaits = AwaitWritten
	var good bool
	st.Card, good = l.str(f[AwaitWritten], what+": await written")
	return good
}

func (l *loader) encode(n *yaml.Node, i int, declared, encoders map[string]bool) Encode {
	e := Encode{Line: n.Line}
	f := l.fields(n, "encode", "scan", "acs_encoder_id", "acs_credential_id", "on", "concurrent", "expect")
	if n.Kind != yaml.MappingNode {
		return e
	}
	unknown := func(key string) string {
		v, ok := f[key]
		if !ok {
			return ""
		}
		s, ok := l.str(v, key)
		if ok && s != Unknown {
			l.addf(v, "%s must be %q (a well-formed id that names nothing), got %q; leave it out for the scenario's own", key, Unknown, s)
			return ""
		}
		return s
	}
	if v, ok := f["scan"]; ok {
		e.Scan, _ = l.boolean(v, "encode: scan")
	}
	e.Encoder = unknown("acs_encoder_id")
	e.Credential = unknown("acs_credential_id")
	if v, ok := f["acs_credential_id"]; ok && e.Scan {
		l.addf(v, "encode: acs_credential_id with scan: a scan names no credential, only the encoder")
	}
	if v, ok := f["on"]; ok {
		if id, ok := l.str(v, "encode: on"); ok {
			if !encoders[id] {
				l.addf(v, "encode: on: the scenario has no encoder %q", id)
			}
			e.On = id
		}
	}
	if v, ok := f["concurrent"]; ok {
		e.Concurrent, _ = l.boolean(v, "encode: concurrent")
		if e.Concurrent && i == 0 {
			l.addf(v, "encode: concurrent: the first encode has no encode before it to run beside")
		}
	}
	if v, ok := f["expect"]; !ok {
		l.addf(n, "encode: expect is required")
	} else {
		e.Expect = l.expect(v, declared, e.Scan)
	}
	return e
}

// expect reads an expectation; scan says whether it is a scan's, which
// alone may say what the scan read.
func (l *loader) expect(n *yaml.Node, declared map[string]bool, scan bool) Expect {
	x := Expect{HTTPStatus: 200, Line: n.Line}
	f := l.fields(n, "expect", "http_status", "status", "error", "card", "written", "issued", "on_seam", "warnings")
	if n.Kind != yaml.MappingNode {
		return x
	}
	if v, ok := f["http_status"]; ok {
		if c, ok := l.integer(v, "expect.http_status"); ok {
			if c < 100 || c > 599 {
				l.addf(v, "expect.http_status %d is not an HTTP status", c)
			}
			x.HTTPStatus = c
		}
	}
	status, hasStatus := f["status"]
	if hasStatus {
		x.Status, _ = l.oneOf(status, "expect.status", "status", []string{"success", "error", StatusAny})
	}
	errNode, hasError := f["error"]
	if hasError {
		ef := l.fields(errNode, "expect.error", "type", "latest")
		if t, ok := ef["type"]; ok {
			if s, ok := l.str(t, "expect.error.type"); ok {
				if !errorTypePattern.MatchString(s) {
					l.addf(t, "expect.error.type %q must be a snake_case error type", s)
				}
				x.ErrorType = s
			}
		} else if errNode.Kind == yaml.MappingNode {
			l.addf(errNode, "expect.error needs a type")
		}
		if t, ok := ef["latest"]; ok {
			if s, ok := l.str(t, "expect.error.latest"); ok {
				if !errorTypePattern.MatchString(s) {
					l.addf(t, "expect.error.latest %q must be a snake_case error type", s)
				}
				if s == x.ErrorType {
					l.addf(t, "expect.error.latest %q is the same as type: leave it out", s)
				}
				x.LatestErrorType = s
			}
		}
	}
	if v, ok := f["card"]; ok {
		if s, ok := l.str(v, "expect.card"); ok {
			if !declared[s] {
				l.addf(v, "expect.card: no card named %q in cards", s)
			}
			x.Card = s
		}
	}
	if v, ok := f["written"]; ok {
		if v.Kind == yaml.MappingNode {
			x.Written, x.Contents = l.written(v)
		} else if s, ok := l.oneOf(v, "expect.written", "content", names(card.Kinds)); ok {
			x.Written = card.Kind(s)
		}
		if _, ok := f["card"]; !ok {
			l.addf(v, "expect.written needs expect.card: the card whose contents to check")
		}
		if scan && x.Contents != nil {
			l.addf(v, "expect.written with scan: a scan writes nothing, so give the content the card keeps (%s), not what an encode writes", strings.Join(names(card.Kinds), ", "))
		}
	}
	x.Read = l.scanRead(f, scan)
	if x.HTTPStatus != 200 {
		if hasStatus {
			l.addf(status, "expect.status with http_status %d: a refused call starts no attempt", x.HTTPStatus)
		}
		if !hasError {
			l.addf(n, "expect with http_status %d needs error.type, the API error's type", x.HTTPStatus)
		}
		if v, ok := f["card"]; ok {
			l.addf(v, "expect.card with http_status %d: a refused call writes no card", x.HTTPStatus)
		}
		return x
	}
	switch {
	case !hasStatus:
		l.addf(n, "expect.status is required (success or error)")
	case x.Status == "success" && hasError:
		l.addf(errNode, "expect.error with status success: a successful attempt has no error")
	case x.Status == "error" && !hasError:
		l.addf(status, "expect.status error needs error.type")
	case x.Status == StatusAny && hasError:
		l.addf(errNode, "expect.error with status any: any terminal status will do, so there is no error type to expect")
	case x.Status == StatusAny && x.Written != "":
		l.addf(f["written"], "expect.written with status any: what the card holds depends on the outcome, which the scenario leaves open")
	}
	if x.Read != nil && x.Status != "success" {
		l.addf(n, "expect.issued, on_seam and warnings are what a scan that succeeds reports: they need status success")
	}
	if x.Read != nil && x.Card == "" {
		l.addf(n, "expect.issued, on_seam and warnings need expect.card: the card the scan reads")
	}
	return x
}

// scanRead reads what a scan must report (issued, on_seam, warnings) out
// of an expectation's fields; nil when it names none of them.
func (l *loader) scanRead(f map[string]*yaml.Node, scan bool) *ScanRead {
	var r ScanRead
	named := false
	for _, key := range []string{"issued", "on_seam", "warnings"} {
		v, ok := f[key]
		if !ok {
			continue
		}
		named = true
		if !scan {
			l.addf(v, "expect.%s is what a scan reports: it needs scan: true on the encode", key)
		}
		switch key {
		case "issued":
			if b, ok := l.boolean(v, "expect.issued"); ok {
				r.Issued = &b
			}
		case "on_seam":
			r.OnSeam, _ = l.oneOf(v, "expect.on_seam", "finding", []string{OnSeamCredential, OnSeamNone})
		case "warnings":
			r.Warnings = []string{}
			for _, it := range l.list(v, "expect.warnings") {
				if w, ok := l.str(it, "expect.warnings entry"); ok {
					if !errorTypePattern.MatchString(w) {
						l.addf(it, "expect.warnings entry %q must be a snake_case warning code", w)
					}
					r.Warnings = append(r.Warnings, w)
				}
			}
		}
	}
	if !named {
		return nil
	}
	return &r
}

// written reads an expectation's written mapping: the content kind and
// what else the card must carry.
func (l *loader) written(n *yaml.Node) (card.Kind, *WrittenContents) {
	f := l.fields(n, "expect.written", "holds", "function", "valid_from", "valid_until", "label")
	var kind card.Kind
	if v, ok := f["holds"]; !ok {
		l.addf(n, "expect.written.holds is required (the content: %s)", strings.Join(names(card.Kinds), ", "))
	} else if s, ok := l.oneOf(v, "expect.written.holds", "content", names(card.Kinds)); ok {
		kind = card.Kind(s)
	}
	w := &WrittenContents{}
	if v, ok := f["function"]; ok {
		w.Function, _ = l.oneOf(v, "expect.written.function", "function", []string{"guest", "staff"})
	}
	bound := func(key string) *Bound {
		v, ok := f[key]
		if !ok {
			return nil
		}
		what := "expect.written." + key
		if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			switch v.Value {
			case "credential":
				return &Bound{Credential: true}
			case "none":
				return &Bound{None: true}
			}
		}
		t, err := time.Parse(time.RFC3339, v.Value)
		if v.Kind != yaml.ScalarNode || err != nil {
			l.addf(v, "%s must be credential (the credential's own bound), none (no bound) or an RFC 3339 time such as 2027-03-01T11:00:00Z, got %s", what, describe(v))
			return nil
		}
		return &Bound{At: t}
	}
	w.ValidFrom, w.ValidUntil = bound("valid_from"), bound("valid_until")
	if v, ok := f["label"]; ok {
		if s, ok := l.str(v, "expect.written.label"); ok {
			w.Label = &s
		}
	}
	if (w.Function != "" || w.ValidFrom != nil || w.ValidUntil != nil || w.Label != nil) && kind != card.Guest && kind != card.Staff {
		l.addf(n, "expect.written: function, validity and label are what an encode writes; they need holds: guest or staff")
	}
	return kind, w
}

// String names a step for messages: "await encode", "wait 100ms".
func (st Step) String() string {
	switch st.Op {
	case OpPlace, OpRemove:
		return string(st.Op) + " " + st.Card
	case OpWait:
		return "wait " + st.Duration.String()
	case OpAwait:
		switch st.Awaits {
		case AwaitAnswer:
			return "await the answer to " + st.Command
		case AwaitWritten:
			return "await " + st.Card + " written"
		}
		return "await " + st.Command
	case OpReply:
		return "reply " + st.Answer
	case OpSilence:
		return "silence " + strconv.FormatBool(st.Silent)
	case OpNAK, OpGarble, OpBusy:
		return string(st.Op) + " " + strconv.Itoa(st.Count)
	case OpServer, OpStore, OpCredential:
		return string(st.Op) + " " + st.Act
	case OpExpect, OpSend:
		if st.Bytes != nil {
			return string(st.Op) + " " + st.Bytes.String()
		}
	}
	return string(st.Op)
}
