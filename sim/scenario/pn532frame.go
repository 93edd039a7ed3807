package scenario

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/encoderlab/encoderlab/sim/trace"
)

// PN532 frame text (encoder protocol pn532) is the TFI and data bytes of
// a normal information frame, in hex, separated by single spaces:
// `D4 4A 01 00`. The preamble, start code, LEN, LCS, DCS and postamble
// are implied: an expected frame must carry them right, a sent frame
// gets them computed. `ACK` and `NACK` alone are the link frames. In
// data positions:
//
//	*            any one byte (expect only)
//	*:N          any N bytes (expect only)
//	$name        in an expect, takes one byte the first time and must
//	             equal what it took after; in a send, writes what it took
//	$name:N      the same for N bytes
//
// Extended frames have no frame text: write them as hex.

// parsePN532 reads PN532 frame text into fields.
func parsePN532(text string, op Op) ([]Field, error) {
	if text == "ACK" || text == "NACK" {
		return []Field{{Text: text}}, nil
	}
	if text == "" {
		return nil, fmt.Errorf("frame %q has no bytes (want the TFI and data in hex, ACK or NACK)", text)
	}
	var out []Field
	total := 0
	for i, tok := range strings.Split(text, " ") {
		at := func(format string, args ...any) error {
			return fmt.Errorf("frame %q, byte field %d %q: %s", text, i+1, tok, fmt.Sprintf(format, args...))
		}
		var f Field
		switch {
		case tok == "":
			return nil, fmt.Errorf("frame %q: fields are separated by one space", text)
		case tok == "ACK" || tok == "NACK":
			return nil, at("%s is a whole frame: write it alone", tok)
		case tok[0] == '*' || tok[0] == '$':
			pat, n, err := splitLen(tok)
			if err != nil {
				return nil, at("%v", err)
			}
			f.Len = n
			switch {
			case pat == "*":
				if op == OpSend {
					return nil, at("'*' matches any byte and cannot be sent; write the bytes (or a $name an expect captured)")
				}
				f.Any = true
			case captureName.MatchString(pat):
				f.Capture = pat[1:]
			case pat[0] == '$':
				return nil, at("capture must be $ and a lower-case name, optionally :N bytes")
			default:
				return nil, at("want '*' or '*:N'")
			}
		case len(tok) == 2 && isHex(tok[0]) && isHex(tok[1]):
			f.Text = strings.ToUpper(tok)
		default:
			return nil, at("want a byte in hex (two digits), '*', '*:N', '$name' or '$name:N'")
		}
		total += max(f.Len, 1)
		out = append(out, f)
	}
	if total > trace.PN532MaxBody {
		return nil, fmt.Errorf("frame %q: %d bytes of TFI and data, a normal frame carries at most %d (write an extended frame as hex)", text, total, trace.PN532MaxBody)
	}
	return out, nil
}

// splitLen splits `*:16` or `$name:16` into the pattern and its length
// (0 when not written).
func splitLen(tok string) (string, int, error) {
	pat, count, ok := strings.Cut(tok, ":")
	if !ok {
		return pat, 0, nil
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > trace.PN532MaxBody || strconv.Itoa(n) != count {
		return "", 0, fmt.Errorf("byte count %q: want a number from 1 to %d", count, trace.PN532MaxBody)
	}
	return pat, n, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkPN532Captures checks, over the whole timeline, that a $name's
// length agrees wherever it is written with one, and that every frame
// fits a normal frame once captures have their lengths. add reports a
// problem at step st.
func checkPN532Captures(steps []Step, add func(st Step, format string, args ...any)) {
	took := map[string]int{} // capture → bytes it takes
	for _, st := range steps {
		if (st.Op != OpExpect && st.Op != OpSend) || st.Bytes == nil || st.Bytes.Frame == "" {
			continue
		}
		total := 0
		for _, f := range st.Bytes.Fields {
			n := max(f.Len, 1)
			if f.Capture != "" {
				if prev, ok := took[f.Capture]; ok {
					if f.Len != 0 && f.Len != prev {
						add(st, "$%s:%d, but $%s took %d byte(s) earlier", f.Capture, f.Len, f.Capture, prev)
					}
					n = prev
				} else if st.Op == OpExpect {
					took[f.Capture] = n
				}
			}
			total += n
		}
		if total > trace.PN532MaxBody {
			add(st, "%d bytes of TFI and data with captures filled in, a normal frame carries at most %d", total, trace.PN532MaxBody)
		}
	}
}
