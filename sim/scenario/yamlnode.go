package scenario

// The loader's toolkit for YAML nodes: parsing a file into one document's
// tree, and reading scalars, mappings and lists from it with problems
// that name the line, column and field. The section decoders (load.go)
// are written with it.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// parseYAML decodes data into its single document's root node. It refuses
// aliases: scenarios are short, and refusing them keeps a hostile file
// from expanding into an exponential tree.
func parseYAML(data []byte) (root *yaml.Node, problems []Problem) {
	defer func() {
		// yaml.v3 has panicked on malformed input before; a scenario
		// linter must report such input, not crash on it.
		if r := recover(); r != nil {
			root, problems = nil, []Problem{{Line: 1, Column: 1, Msg: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, []Problem{yamlProblem(err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, []Problem{{Line: 1, Column: 1, Msg: "empty file: want a scenario mapping"}}
	}
	// A trailing "---" is harmless; a second document with content is not.
	var next yaml.Node
	if err := dec.Decode(&next); err != nil && !errors.Is(err, io.EOF) {
		return nil, []Problem{yamlProblem(err)}
	} else if err == nil && len(next.Content) > 0 && next.Content[0].Tag != "!!null" {
		n := next.Content[0]
		return nil, []Problem{{Line: n.Line, Column: n.Column, Msg: "a scenario file holds one YAML document, found another"}}
	}
	walk(doc.Content[0], func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			problems = append(problems, Problem{Line: n.Line, Column: n.Column, Msg: "aliases are not supported"})
		}
	})
	return doc.Content[0], problems
}

func walk(n *yaml.Node, f func(*yaml.Node)) {
	f(n)
	for _, c := range n.Content {
		walk(c, f)
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlProblem turns a yaml.v3 syntax error into a positioned problem.
func yamlProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Line: line, Column: 1, Msg: "invalid YAML: " + m[2]}
	}
	return Problem{Line: 1, Column: 1, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// loader turns a YAML tree into a Scenario, collecting problems as it
// goes instead of stopping at the first.
type loader struct {
	problems []Problem
	// protocol is the replay encoder's protocol, which says how frame
	// text in expect and send steps reads.
	protocol string
}

func (l *loader) addf(n *yaml.Node, format string, args ...any) {
	l.problems = append(l.problems, Problem{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// pos is where n is written.
func pos(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

// describe names a node's type for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "true/false"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		case "!!str":
			return fmt.Sprintf("a string (%q)", n.Value)
		}
		return fmt.Sprintf("%s (%q)", n.Tag, n.Value)
	}
	return "nothing"
}

// fields checks that n is a mapping with only known keys, each once, and
// returns the value node of each key present.
func (l *loader) fields(n *yaml.Node, what string, known ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		l.addf(n, "%s must be a mapping, got %s", what, describe(n))
		return out
	}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if first, dup := keys[k.Value]; dup {
			l.addf(k, "%s: duplicate key %q (first at line %d)", what, k.Value, first.Line)
			continue
		}
		keys[k.Value] = k
		if k.Kind != yaml.ScalarNode || !slices.Contains(known, k.Value) {
			l.addf(k, "%s: unknown key %q (want one of %s)", what, k.Value, strings.Join(known, ", "))
			continue
		}
		out[k.Value] = v
	}
	return out
}

// pairs checks that n is a mapping with unique keys and returns its
// key/value nodes in file order.
func (l *loader) pairs(n *yaml.Node, what string) [][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		l.addf(n, "%s must be a mapping, got %s", what, describe(n))
		return nil
	}
	var out [][2]*yaml.Node
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			l.addf(k, "%s: duplicate key %q (first at line %d)", what, k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		if k.Kind != yaml.ScalarNode {
			l.addf(k, "%s: a key must be a plain name, got %s", what, describe(k))
			continue
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		l.addf(n, "%s must be a string, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// text reads a scalar as written, whatever YAML resolves it to: a UID or
// card id made only of digits is still hex.
func (l *loader) text(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Tag == "!!bool" {
		l.addf(n, "%s must be a string, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (l *loader) integer(n *yaml.Node, what string) (int, bool) {
	var v int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		l.addf(n, "%s must be a whole number, got %s", what, describe(n))
		return 0, false
	}
	return v, true
}

func (l *loader) boolean(n *yaml.Node, what string) (bool, bool) {
	var v bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
		l.addf(n, "%s must be true or false, got %s", what, describe(n))
		return false, false
	}
	return v, true
}

// duration reads a Go duration ("1m30s"); a bare 0 is accepted too.
func (l *loader) duration(n *yaml.Node, what string, negative bool) time.Duration {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Value != "0") {
		l.addf(n, "%s must be a duration such as 100ms or 20s, got %s", what, describe(n))
		return 0
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		l.addf(n, "%s: bad duration %q (want a number with a unit: 100ms, 20s, 2m, 72h)", what, n.Value)
		return 0
	}
	if d < 0 && !negative {
		l.addf(n, "%s must not be negative, got %s", what, n.Value)
		return 0
	}
	return d
}

func (l *loader) list(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		l.addf(n, "%s must be a list, got %s", what, describe(n))
		return nil
	}
	return n.Content
}

// oneOf reads a string that must be one of want; noun names what it is.
func (l *loader) oneOf(n *yaml.Node, what, noun string, want []string) (string, bool) {
	v, ok := l.str(n, what)
	if !ok {
		return "", false
	}
	if !slices.Contains(want, v) {
		l.addf(n, "%s: unknown %s %q (want one of %s)", what, noun, v, strings.Join(want, ", "))
		return "", false
	}
	return v, true
}

func names[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// instant reads an RFC 3339 time ("2027-03-01T11:00:00Z").
func (l *loader) instant(n *yaml.Node, what string) time.Time {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Tag == "!!bool" {
		l.addf(n, "%s must be an RFC 3339 time such as 2027-03-01T11:00:00Z, got %s", what, describe(n))
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		l.addf(n, "%s: bad time %q (want RFC 3339 with a zone: 2027-03-01T11:00:00Z)", what, n.Value)
		return time.Time{}
	}
	return t
}
