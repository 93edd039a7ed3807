package scenario

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

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
