package trace

import (
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
)

// pmsConverter turns a PMS trace's units into replay steps: the PMS
// model's converter (model.Protocol.NewConverter).
type pmsConverter struct {
	cardID string // the card id the last CN carried, "" before one
}

// NewPMSConverter returns the PMS model's converter. A PMS recording
// redacts nothing a replay needs: labels and card ids become patterns
// anyway.
func NewPMSConverter(map[string]bool) model.Converter { return &pmsConverter{} }

// Unit is the length of the complete unit at the start of b: a control
// or noise byte, a frame up to its LRC, or the bytes before the next STX
// (an abandoned frame); 0 when the unit is not complete yet.
func (c *pmsConverter) Unit(b []byte) int {
	if b[0] != PMSSTX {
		return 1
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case PMSSTX:
			return i
		case PMSETX:
			if i+1 < len(b) {
				return i + 2
			}
			return 0
		}
	}
	return 0
}

// Text is unit as a frame pattern, when it is a whole PMS frame or a
// control byte.
func (c *pmsConverter) Text(fromHost bool, unit []byte) (string, bool) {
	if len(unit) == 1 {
		for name, b := range PMSControl {
			if unit[0] == b {
				return name, true
			}
		}
		return "", false
	}
	fields, err := PMSSplit(unit)
	if err != nil || len(fields) == 0 {
		return "", false
	}
	text := make([]string, len(fields))
	lit := make([]bool, len(fields))
	for i, f := range fields {
		text[i], lit[i] = f, true
	}
	vary := func(i int, pattern string) {
		if i < len(fields) {
			text[i], lit[i] = pattern, false
		}
	}
	switch code := fields[0]; {
	case fromHost && code == "CN":
		// card id, function, valid from, valid until, label
		if len(fields) > 2 {
			c.cardID = fields[2]
		}
		vary(2, "$cardid")
		vary(4, "*")
		vary(5, "*")
		vary(6, "*")
	case !fromHost && code == "OK" && len(fields) == 5:
		if c.cardID != "" && fields[4] == c.cardID {
			vary(4, "$cardid")
		}
	case !fromHost && code == "OK" && len(fields) == 6:
		if c.cardID != "" && fields[5] == c.cardID {
			vary(5, "$cardid")
		}
	case !fromHost && code == "VU" && len(fields) == 3:
		if c.cardID != "" && fields[2] == c.cardID {
			vary(2, "$cardid")
		}
	}
	var parts []string
	for i := range text {
		if lit[i] {
			parts = append(parts, FormatFields([]string{text[i]}))
		} else {
			parts = append(parts, text[i])
		}
	}
	return strings.Join(parts, " "), true
}

// Describe says what a unit written as hex is.
func (c *pmsConverter) Describe(unit []byte) string { return DescribePMS(unit) }
