package trace

import (
	"fmt"
	"slices"
	"strings"
)

// RedactFields lists, per protocol, what a Redactor can blank out:
// PMS guest labels and card ids; PN532 authentication keys and the data
// of blocks written or read.
var RedactFields = map[string][]string{
	"pms":   {"label", "card-id"},
	"pn532": {"keys", "all-data"},
}

// Redactor blanks chosen fields out of both directions of a line's bytes
// as they are recorded, keeping every frame's length and making its
// checksum right for the new bytes (a checksum that was wrong stays
// wrong by the same amount), so the trace still decodes and replays. It
// follows frames across chunks. It is not safe for concurrent use.
type Redactor struct {
	fields map[string]bool
	pms    [2]*pmsRedact
	pn532  [2]*pn532Redact
	// lastCommand is the last PMS command code the host sent: it says
	// which answer field is a card id.
	lastCommand string
}

// NewRedactor returns a redactor for protocol that blanks fields, each
// one of RedactFields[protocol].
func NewRedactor(protocol string, fields []string) (*Redactor, error) {
	known, ok := RedactFields[protocol]
	if !ok {
		return nil, fmt.Errorf("trace: redaction needs a protocol (%s), got %q", strings.Join(Protocols, ", "), protocol)
	}
	r := &Redactor{fields: map[string]bool{}}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if !slices.Contains(known, f) {
			return nil, fmt.Errorf("trace: cannot redact %q in %s (want one of %s)", f, protocol, strings.Join(known, ", "))
		}
		r.fields[f] = true
	}
	for i := range 2 {
		if protocol == "pms" {
			r.pms[i] = &pmsRedact{}
		} else {
			r.pn532[i] = &pn532Redact{}
		}
	}
	return r, nil
}

// RedactedNames is what a trace header lists for fields redacted in
// protocol: "pms:label", ….
func RedactedNames(protocol string, fields []string) []string {
	var out []string
	for _, f := range fields {
		out = append(out, protocol+":"+strings.TrimSpace(f))
	}
	return out
}

// Redact returns b, sent in direction d, with the chosen fields blanked.
// b itself is not changed.
func (r *Redactor) Redact(d Direction, b []byte) []byte {
	out := slices.Clone(b)
	i := 0
	if d == DeviceToHost {
		i = 1
	}
	if p := r.pms[i]; p != nil {
		for k := range out {
			out[k] = p.next(r, d, out[k])
		}
	}
	if p := r.pn532[i]; p != nil {
		for k := range out {
			out[k] = p.next(r, d, out[k])
		}
	}
	return out
}

// pmsRedact follows one direction's PMS frames byte by byte.
type pmsRedact struct {
	in         bool
	afterETX   bool
	field      int
	code       []byte
	orig, repl byte // the LRC of the original and of the redacted body
}

func (p *pmsRedact) next(r *Redactor, d Direction, c byte) byte {
	switch {
	case !p.in:
		if c == PMSSTX {
			*p = pmsRedact{in: true}
		}
		return c
	case p.afterETX:
		p.in = false
		return c ^ p.orig ^ p.repl
	case c == PMSSTX:
		*p = pmsRedact{in: true}
		return c
	}
	out := c
	switch c {
	case PMSETX:
		p.afterETX = true
		if d == HostToDevice {
			r.lastCommand = string(p.code)
		}
	case PMSFS:
		p.field++
	default:
		if p.field == 0 {
			p.code = append(p.code, c)
		} else if blank := p.blank(r, d); blank != 0 {
			out = blank
		}
	}
	p.orig ^= c
	p.repl ^= out
	return out
}

// blank is the byte a field byte at the current position becomes, or 0
// to keep it.
func (p *pmsRedact) blank(r *Redactor, d Direction) byte {
	code := string(p.code)
	cardID := false
	if d == HostToDevice {
		if code == "CN" && p.field == 6 && r.fields["label"] {
			return 'x'
		}
		cardID = code == "CN" && p.field == 2
	} else {
		switch {
		case code == "OK" && r.lastCommand == "CN":
			cardID = p.field == 4
		case code == "OK" && r.lastCommand == "RC":
			cardID = p.field == 5
		case code == "VU":
			cardID = p.field == 2
		}
	}
	if cardID && r.fields["card-id"] {
		return '0'
	}
	return 0
}

// pn532Redact follows one direction's PN532 normal frames byte by byte:
// 00 FF LEN LCS, then LEN bytes of TFI and data, then DCS.
type pn532Redact struct {
	state      int // 0 looking for 00, 1 saw 00, 2 LEN, 3 LCS, 4 body, 5 DCS
	n, k       int // body length, bytes of it seen
	body       []byte
	orig, repl byte // sums of the original and the redacted body
}

func (p *pn532Redact) next(r *Redactor, d Direction, c byte) byte {
	switch p.state {
	case 0:
		if c == 0x00 {
			p.state = 1
		}
	case 1:
		switch c {
		case 0xFF:
			p.state = 2
		case 0x00:
		default:
			p.state = 0
		}
	case 2:
		p.n = int(c)
		p.state = 3
	case 3:
		// ACK, NACK and extended frames carry nothing to redact.
		if p.n == 0 || p.n == 0xFF || byte(p.n)+c != 0 {
			p.state = 0
			return c
		}
		p.state, p.k, p.body, p.orig, p.repl = 4, 0, p.body[:0], 0, 0
	case 4:
		p.body = append(p.body, c)
		out := c
		if p.secret(r, p.k) {
			out = 0
		}
		p.orig += c
		p.repl += out
		p.k++
		if p.k == p.n {
			p.state = 5
		}
		return out
	case 5:
		p.state = 0
		return c + p.orig - p.repl
	}
	return c
}

// secret says whether body byte k (0: TFI) is a key or block data. The
// bytes before it are in p.body.
func (p *pn532Redact) secret(r *Redactor, k int) bool {
	b := p.body
	if len(b) < 2 {
		return false
	}
	switch {
	case b[0] == 0xD4 && b[1] == 0x40 && len(b) >= 4:
		// InDataExchange: D4 40 Tg cmd block …
		switch b[3] {
		case 0x60, 0x61: // MIFARE authenticate: key A/B, 6 bytes, then the UID
			return r.fields["keys"] && k >= 5 && k < 11
		case 0xA0: // MIFARE write: 16 bytes of block data
			return r.fields["all-data"] && k >= 5
		}
	case b[0] == 0xD5 && b[1] == 0x41:
		// InDataExchange answer: D5 41 status data… (the block read)
		return r.fields["all-data"] && k >= 3
	}
	return false
}
