package timeline

import (
	"fmt"
	"strings"

	"github.com/encoderlab/encoderlab/sim/trace"
)

// PMS commands and answers (docs/protocols/pms.md, "Commands" and
// "Answers"). An answer that reports a failure to encode is an error.
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

// pmsFrames splits one direction's bytes into PMS units: ENQ, ACK and
// NAK outside frames, STX … ETX LRC frames, and noise.
func pmsFrames(s stream, d trace.Direction, redacted map[string]bool) []Frame {
	var out []Frame
	noise := -1 // start of a run of noise bytes
	flush := func(j int) {
		if noise >= 0 {
			f := s.frame(d, noise, j, KindOther)
			f.Name = "noise " + hexBytes(s.b[noise:j])
			out = append(out, f)
			noise = -1
		}
	}
	lastCommand := "" // the host's: which answer field is a card id
	for i := 0; i < len(s.b); {
		c := s.b[i]
		if name, ok := map[byte]string{trace.PMSENQ: "ENQ", trace.PMSACK: "ACK", trace.PMSNAK: "NAK"}[c]; ok {
			flush(i)
			f := s.frame(d, i, i+1, KindControl)
			f.Name = name
			out = append(out, f)
			i++
			continue
		}
		if c != trace.PMSSTX {
			if noise < 0 {
				noise = i
			}
			i++
			continue
		}
		flush(i)
		// A frame: up to ETX and the LRC; an STX inside restarts it.
		j, end := i+1, -1
		for ; j < len(s.b) && j-i < trace.PMSMaxFrame; j++ {
			if s.b[j] == trace.PMSSTX {
				break
			}
			if s.b[j] == trace.PMSETX {
				if j+1 < len(s.b) {
					end = j + 2
				}
				break
			}
		}
		if end < 0 {
			stop := j
			if j < len(s.b) && s.b[j] == trace.PMSETX {
				stop = len(s.b)
			}
			f := s.frame(d, i, stop, KindBad)
			f.Name, f.Error = "partial frame", true
			f.Detail = "no ETX and LRC"
			out = append(out, f)
			i = stop
			continue
		}
		f := s.frame(d, i, end, KindFrame)
		fields, err := trace.PMSSplit(s.b[i:end])
		if err != nil {
			f.Kind, f.Name, f.Error = KindBad, "bad frame", true
			f.Detail = strings.TrimPrefix(err.Error(), "pms frame: ")
		} else {
			describePMS(&f, fields, d, lastCommand, redacted)
			if d == trace.HostToDevice {
				lastCommand = fields[0]
			}
		}
		out = append(out, f)
		i = end
	}
	flush(len(s.b))
	return out
}

// describePMS names a good frame's fields.
func describePMS(f *Frame, fields []string, d trace.Direction, lastCommand string, redacted map[string]bool) {
	code := fields[0]
	f.Name = code
	var parts []string
	if d == trace.HostToDevice {
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
			v, f.Redacted = redactedText, true
		case v == "":
			v = "none"
		}
		parts = append(parts, name+" "+v)
	}
	cardID := redacted["pms:card-id"]
	switch {
	case d == trace.HostToDevice && code == "CN":
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
	case d == trace.DeviceToHost && code == "OK":
		field(2, "card", false)
		field(3, "technology", false)
		if lastCommand == "RC" {
			if len(fields) > 4 {
				parts = append(parts, "content "+map[string]string{"B": "blank", "G": "guest", "S": "staff", "F": "another system's"}[fields[4]])
			}
			field(5, "card id", cardID)
		} else {
			field(4, "card id", cardID)
		}
	case d == trace.DeviceToHost && code == "VU":
		field(2, "card id", cardID)
	case d == trace.DeviceToHost && code == "CF":
		field(2, "technology", false)
	default:
		for k := 2; k < len(fields); k++ {
			parts = append(parts, fmt.Sprintf("%q", fields[k]))
		}
	}
	f.Detail = strings.Join(parts, " · ")
}
