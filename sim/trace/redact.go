package trace

import (
	"fmt"
	"slices"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
)

// RedactFields lists what a Redactor can blank out in protocol: as its
// model registered it (model.Protocol.RedactFields); nil for a protocol
// nobody registered.
func RedactFields(protocol string) []string {
	if p, ok := model.ProtocolOf(protocol); ok {
		return slices.Clone(p.RedactFields)
	}
	return nil
}

// The fields the bundled protocols' redactors blank out: PMS guest labels
// and card ids; PN532 MIFARE keys (in authentication commands, and key A
// and key B in sector trailers written or read) and the data of blocks
// written or read.
var (
	PMSRedactFields   = []string{"label", "card-id"}
	PN532RedactFields = []string{"keys", "all-data"}
)

// Redactor blanks chosen fields out of both directions of a line's bytes
// as they are recorded, keeping every frame's length and making its
// checksum right for the new bytes (a checksum that was wrong stays
// wrong by the same amount), so the trace still decodes and replays. It
// follows frames across chunks. It is not safe for concurrent use.
type Redactor struct {
	r model.Redactor
}

// NewRedactor returns a redactor for protocol that blanks fields, each
// one of RedactFields(protocol).
func NewRedactor(protocol string, fields []string) (*Redactor, error) {
	p, ok := model.ProtocolOf(protocol)
	if !ok || p.NewRedactor == nil {
		var can []string
		for _, name := range Protocols() {
			if len(RedactFields(name)) > 0 {
				can = append(can, name)
			}
		}
		return nil, fmt.Errorf("trace: redaction needs a protocol that has it (%s), got %q", strings.Join(can, ", "), protocol)
	}
	chosen := map[string]bool{}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if !slices.Contains(p.RedactFields, f) {
			return nil, fmt.Errorf("trace: cannot redact %q in %s (want one of %s)", f, protocol, strings.Join(p.RedactFields, ", "))
		}
		chosen[f] = true
	}
	return &Redactor{r: p.NewRedactor(chosen)}, nil
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
	return r.r.Redact(d == HostToDevice, b)
}

// pmsRedactor redacts a PMS line (PMSRedactFields).
type pmsRedactor struct {
	fields map[string]bool
	dirs   [2]pmsRedact // host>device, device>host
	// lastCommand is the last command code the host sent: it says which
	// answer field is a card id.
	lastCommand string
}

// NewPMSRedactor returns the PMS model's redactor, blanking fields (each
// one of PMSRedactFields).
func NewPMSRedactor(fields map[string]bool) model.Redactor {
	return &pmsRedactor{fields: fields}
}

func (r *pmsRedactor) Redact(fromHost bool, b []byte) []byte {
	d, i := side(fromHost)
	return bytewise(b, func(c byte) byte { return r.dirs[i].next(r, d, c) })
}

// side is the direction of a line's bytes, and its index in a
// redactor's per-direction state.
func side(fromHost bool) (Direction, int) {
	if fromHost {
		return HostToDevice, 0
	}
	return DeviceToHost, 1
}

// bytewise returns a copy of b with each byte as next makes it.
func bytewise(b []byte, next func(byte) byte) []byte {
	out := slices.Clone(b)
	for k := range out {
		out[k] = next(out[k])
	}
	return out
}

// pn532Redactor redacts a PN532 line (PN532RedactFields).
type pn532Redactor struct {
	fields map[string]bool
	dirs   [2]pn532Redact
	// trailerRead is set while the last frame the host sent is a MIFARE
	// read of a sector trailer: its answer carries the keys the card
	// lets be read.
	trailerRead bool
}

// NewPN532Redactor returns the PN532 model's redactor, blanking fields
// (each one of PN532RedactFields).
func NewPN532Redactor(fields map[string]bool) model.Redactor {
	return &pn532Redactor{fields: fields}
}

func (r *pn532Redactor) Redact(fromHost bool, b []byte) []byte {
	d, i := side(fromHost)
	return bytewise(b, func(c byte) byte { return r.dirs[i].next(r, d, c) })
}

// pmsRedact follows one direction's PMS frames byte by byte.
type pmsRedact struct {
	in         bool
	afterETX   bool
	field      int
	code       []byte
	orig, repl byte // the LRC of the original and of the redacted body
}

func (p *pmsRedact) next(r *pmsRedactor, d Direction, c byte) byte {
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
func (p *pmsRedact) blank(r *pmsRedactor, d Direction) byte {
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

func (p *pn532Redact) next(r *pn532Redactor, d Direction, c byte) byte {
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
			if d == HostToDevice {
				r.trailerRead = isTrailerRead(p.body)
			}
		}
		return out
	case 5:
		p.state = 0
		return c + p.orig - p.repl
	}
	return c
}

// MIFARE Classic commands inside InDataExchange, and where a sector
// trailer keeps its keys (docs/protocols/pn532.md, Cards).
const (
	mifareAuthA = 0x60
	mifareAuthB = 0x61
	mifareRead  = 0x30
	mifareWrite = 0xA0
	// A trailer is key A (bytes 0–5), the access bits (6–9), key B
	// (10–15).
	trailerKeyA, trailerKeyB, mifareKeyLen = 0, 10, 6
)

// MIFARETrailer reports whether a MIFARE Classic block is a sector
// trailer (key A, access bits, key B): the last of every 4 blocks below
// block 128 (a 1K card, and the first 32 sectors of a 4K), the last of
// every 16 from there on (the 4K's large sectors: 143, 159, …, 255).
func MIFARETrailer(block byte) bool {
	if block < 128 {
		return block%4 == 3
	}
	return block%16 == 15
}

// inTrailerKey reports whether byte i of a sector trailer is a key byte.
func inTrailerKey(i int) bool {
	return i >= trailerKeyA && i < trailerKeyA+mifareKeyLen ||
		i >= trailerKeyB && i < trailerKeyB+mifareKeyLen
}

// isTrailerRead reports whether a host frame's body is a MIFARE read of
// a sector trailer: D4 40 Tg 30 block.
func isTrailerRead(b []byte) bool {
	return len(b) == 5 && b[0] == 0xD4 && b[1] == 0x40 && b[3] == mifareRead && MIFARETrailer(b[4])
}

// secret says whether body byte k (0: TFI) is a key or block data. The
// bytes before it are in p.body.
func (p *pn532Redact) secret(r *pn532Redactor, k int) bool {
	b := p.body
	if len(b) < 2 {
		return false
	}
	switch {
	case b[0] == 0xD4 && b[1] == 0x40 && len(b) >= 4:
		// InDataExchange: D4 40 Tg cmd block …
		switch b[3] {
		case mifareAuthA, mifareAuthB: // key A/B, 6 bytes, then the UID
			return r.fields["keys"] && k >= 5 && k < 5+mifareKeyLen
		case mifareWrite: // 16 bytes of block data
			if r.fields["all-data"] {
				return k >= 5
			}
			// A trailer written carries both keys: keep only the access
			// bits, so the trace still shows what the sector allows.
			return r.fields["keys"] && k >= 5 && MIFARETrailer(b[4]) && inTrailerKey(k-5)
		}
	case b[0] == 0xD5 && b[1] == 0x41:
		// InDataExchange answer: D5 41 status data… (the block read)
		if r.fields["all-data"] {
			return k >= 3
		}
		// A trailer read back shows key B when the access bits let it
		// be read; a genuine card reads key A as zeros, a clone may not.
		return r.fields["keys"] && r.trailerRead && k >= 3 && inTrailerKey(k-3)
	}
	return false
}
