package fault

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// piece is a run of bytes to deliver after waiting.
type piece struct {
	wait time.Duration
	b    []byte
}

// stage is a stream fault in one direction. apply is called under the
// chain's lock, so a stage keeps its counters without locks of its own.
type stage interface {
	apply(ps []piece) []piece
}

func newStage(s scenario.FaultSpec, d Direction, scale timescale.Scale) (stage, error) {
	switch s.Fault {
	case scenario.FaultLatency:
		if s.D <= 0 {
			return nil, fmt.Errorf("latency: d must be positive, got %v", s.D)
		}
		return &latency{d: scale.Of(s.D)}, nil
	case scenario.FaultJitter:
		if s.D <= 0 {
			return nil, fmt.Errorf("jitter: d must be positive, got %v", s.D)
		}
		return &jitter{d: scale.Of(s.D), r: newRand(s.Seed, d)}, nil
	case scenario.FaultSilence:
		return silence{}, nil
	case scenario.FaultDrop:
		if (s.N > 0) == (s.Every > 0) {
			return nil, fmt.Errorf("drop: want one of n or every, got n=%d every=%d", s.N, s.Every)
		}
		return &drop{left: s.N, every: s.Every}, nil
	case scenario.FaultCorrupt:
		if s.AtByte < 0 && (s.P <= 0 || s.P > 1) {
			return nil, fmt.Errorf("corrupt: want at_byte or a probability p in (0, 1], got p=%v", s.P)
		}
		return &corrupt{at: s.AtByte, p: s.P, r: newRand(s.Seed, d)}, nil
	case scenario.FaultChunk:
		if s.N < 1 {
			return nil, fmt.Errorf("chunk: n must be at least 1, got %d", s.N)
		}
		return chunk{n: s.N}, nil
	case scenario.FaultDuplicate:
		return &duplicate{left: max(s.N, 1)}, nil
	case scenario.FaultBaud:
		if s.Rate < 1 {
			return nil, fmt.Errorf("baud: rate must be at least 1, got %d", s.Rate)
		}
		// 8N1: a start bit, 8 data bits and a stop bit per byte.
		return baud{perByte: scale.Of(10 * time.Second / time.Duration(s.Rate))}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownFault, s.Fault)
}

// latency delays each chunk by d.
type latency struct{ d time.Duration }

func (l *latency) apply(ps []piece) []piece {
	if len(ps) > 0 {
		ps[0].wait += l.d
	}
	return ps
}

// jitter delays each piece by a random time up to d.
type jitter struct {
	d time.Duration
	r *rand.Rand
}

func (j *jitter) apply(ps []piece) []piece {
	for i := range ps {
		ps[i].wait += time.Duration(j.r.Int64N(int64(j.d) + 1))
	}
	return ps
}

// silence drops everything.
type silence struct{}

func (silence) apply([]piece) []piece { return nil }

// drop drops the next left bytes, or every every-th byte.
type drop struct {
	left, every, seen int
}

func (d *drop) apply(ps []piece) []piece {
	out := ps[:0]
	for _, p := range ps {
		kept := make([]byte, 0, len(p.b))
		for _, c := range p.b {
			d.seen++
			switch {
			case d.every > 0 && d.seen%d.every == 0:
				continue
			case d.left > 0:
				d.left--
				continue
			}
			kept = append(kept, c)
		}
		if len(kept) > 0 || p.wait > 0 {
			out = append(out, piece{wait: p.wait, b: kept})
		}
	}
	return out
}

// corrupt flips the lowest bit of the byte at offset at (once), or one
// random bit of each byte with probability p.
type corrupt struct {
	at   int // -1: random
	p    float64
	r    *rand.Rand
	seen int
}

func (c *corrupt) apply(ps []piece) []piece {
	for i := range ps {
		b := append([]byte(nil), ps[i].b...)
		for j := range b {
			if c.at >= 0 {
				if c.seen == c.at {
					b[j] ^= 0x01
				}
			} else if c.r.Float64() < c.p {
				b[j] ^= 1 << c.r.IntN(8)
			}
			c.seen++
		}
		ps[i].b = b
	}
	return ps
}

// chunk splits pieces into pieces of at most n bytes.
type chunk struct{ n int }

func (c chunk) apply(ps []piece) []piece {
	var out []piece
	for _, p := range ps {
		wait := p.wait
		for len(p.b) > c.n {
			out = append(out, piece{wait: wait, b: p.b[:c.n]})
			p.b, wait = p.b[c.n:], 0
		}
		out = append(out, piece{wait: wait, b: p.b})
	}
	return out
}

// duplicate sends each of the next left chunks twice.
type duplicate struct{ left int }

func (d *duplicate) apply(ps []piece) []piece {
	if d.left == 0 || len(ps) == 0 {
		return ps
	}
	d.left--
	out := append([]piece(nil), ps...)
	for _, p := range ps {
		out = append(out, piece{b: append([]byte(nil), p.b...)})
	}
	return out
}

// baud paces bytes one at a time, a byte time apart.
type baud struct{ perByte time.Duration }

func (b baud) apply(ps []piece) []piece {
	var out []piece
	for _, p := range ps {
		for i := range p.b {
			w := b.perByte
			if i == 0 {
				w += p.wait
			}
			out = append(out, piece{wait: w, b: p.b[i : i+1]})
		}
	}
	return out
}
