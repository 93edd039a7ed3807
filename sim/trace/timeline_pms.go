package trace

import (
	"fmt"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
)

// PMSTimeline is how a timeline reads a PMS line (the PMS model's
// model.Protocol.Timeline): ENQ, ACK and NAK outside frames, frames with
// their commands and answers named from docs/protocols/pms.md and their
// fields decoded, noise.
var PMSTimeline = &model.Timeline{
	Units: pmsUnits,
	// The link-control bytes and the field separator, as a chunk shown
	// as text names them (docs/protocols/pms.md, Bytes).
	ControlNames: map[byte]string{
		PMSSTX: "‹STX›", PMSETX: "‹ETX›", PMSENQ: "‹ENQ›", PMSACK: "‹ACK›", PMSNAK: "‹NAK›",
		PMSFS: "│",
	},
}

// PMS commands and answers as a timeline names them
// (docs/protocols/pms.md, "Commands" and "Answers"). An answer that
// reports a failure to encode is an error.
var (
	pmsCommands = map[string]string{
		"CN": "encode a new card", "RC": "read the card", "CC": "cancel",
	}
	pmsAnswers = map[string]string{
		"OK": "done", "NC": "no card in the field", "TO": "no card arrived in time",
		"CF": "card format error", "OS": "another system's card",
		"VU": "valid user card, not overwritten", "RM": "card removed before the write completed",
		"BY": "busy", "SE": "syntax error", "ER": "device error", "CC": "cancelled",
	}
	pmsErrors = map[string]bool{
		"NC": true, "TO": true, "CF": true, "OS": true, "VU": true, "RM": true, "BY": true, "SE": true, "ER": true,
	}
)

// pmsUnits splits one direction's bytes into PMS units: ENQ, ACK and
// NAK outside frames, STX … ETX LRC frames, and noise.
func pmsUnits(b []byte, fromHost bool, redacted map[string]bool) []model.Unit {
	var out []model.Unit
	noise := -1 // start of a run of noise bytes
	flush := func(j int) {
		if noise >= 0 {
			out = append(out, model.Unit{Start: noise, End: j, Kind: model.UnitOther, Name: "noise " + hexBytes(b[noise:j])})
			noise = -1
		}
	}
	for i := 0; i < len(b); {
		c := b[i]
		if link, ok := pmsLinks[c]; ok {
			flush(i)
			out = append(out, model.Unit{Start: i, End: i + 1, Kind: model.UnitControl, Name: link.name, Link: link.link})
			i++
			continue
		}
		if c != PMSSTX {
			if noise < 0 {
				noise = i
			}
			i++
			continue
		}
		flush(i)
		// A frame: up to ETX and the LRC; an STX inside restarts it.
		j, end := i+1, -1
		for ; j < len(b) && j-i < PMSMaxFrame; j++ {
			if b[j] == PMSSTX {
				break
			}
			if b[j] == PMSETX {
				if j+1 < len(b) {
					end = j + 2
				}
				break
			}
		}
		if end < 0 {
			stop := j
			if j < len(b) && b[j] == PMSETX {
				stop = len(b)
			}
			out = append(out, model.Unit{Start: i, End: stop, Kind: model.UnitBad,
				Name: "partial frame", Detail: "no ETX and LRC", Error: true})
			i = stop
			continue
		}
		u := model.Unit{Start: i, End: end, Kind: model.UnitFrame}
		fields, err := PMSSplit(b[i:end])
		if err != nil {
			u.Kind, u.Name, u.Error = model.UnitBad, "bad frame", true
			u.Detail = strings.TrimPrefix(err.Error(), "pms frame: ")
		} else {
			namePMS(&u, fields, fromHost, redacted)
		}
		out = append(out, u)
		i = end
	}
	flush(len(b))
	return out
}

// pmsLinks are the control bytes outside frames, with their names and
// what they do in the link layer.
var pmsLinks = map[byte]struct{ name, link string }{
	PMSENQ: {"ENQ", model.LinkEnquiry},
	PMSACK: {"ACK", model.LinkACK},
	PMSNAK: {"NAK", model.LinkNAK},
}

// namePMS names a good frame's fields.
func namePMS(f *model.Unit, fields []string, fromHost bool, redacted map[string]bool) {
	code := fields[0]
	f.Name = code
	var parts []string
	if fromHost {
		if m := pmsCommands[code]; m != "" {
			parts = append(parts, m)
		}
	} else {
		if m := pmsAnswers[code]; m != "" {
			f.Status = m
		}
		f.Error = pmsErrors[code]
	}
	if len(fields) > 1 {
		parts = append(parts, "address "+fields[1])
	}
	field := func(i int, name string, secret bool) {
		if i >= len(fields) {
			return
		}
		v := fields[i]
		switch {
		case secret:
			v, f.Redacted = model.RedactedText, true
		case v == "":
			v = "none"
		}
		parts = append(parts, name+" "+v)
	}
	cardID := redacted["pms:card-id"]
	switch {
	case fromHost && code == "CN":
		field(2, "card id", cardID)
		if len(fields) > 3 {
			parts = append(parts, map[string]string{"G": "guest", "S": "staff"}[fields[3]])
		}
		field(4, "from", false)
		field(5, "until", false)
		if len(fields) > 6 {
			if redacted["pms:label"] {
				field(6, "label", true)
			} else {
				parts = append(parts, fmt.Sprintf("label %q", fields[6]))
			}
		}
	case !fromHost && code == "OK":
		field(2, "card", false)
		field(3, "technology", false)
		// An OK to RC has the card's content before its card id: six
		// fields where an OK to CN has five. Each direction is cut on
		// its own, so the host's command is not known here; the answer's
		// shape says which it is.
		if len(fields) >= 6 {
			if len(fields) > 4 {
				parts = append(parts, "content "+map[string]string{"B": "blank", "G": "guest", "S": "staff", "F": "another system's"}[fields[4]])
			}
			field(5, "card id", cardID)
		} else {
			field(4, "card id", cardID)
		}
	case !fromHost && code == "VU":
		field(2, "card id", cardID)
	case !fromHost && code == "CF":
		field(2, "technology", false)
	default:
		for k := 2; k < len(fields); k++ {
			parts = append(parts, fmt.Sprintf("%q", fields[k]))
		}
	}
	f.Detail = strings.Join(parts, " · ")
}

// hexBytes is b in upper-case hex, spaced, as the protocol pages write
// it.
func hexBytes(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, " ")
}
