package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The timeline: the steps, each checked against the cards and encoders
// the file declares.

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
