package scenario

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/sim/card"
)

// The sections of a scenario about its setting: the encoders, the cards
// and the credential.

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
