package timeline

import (
	"fmt"
	"strings"

	"github.com/encoderlab/encoderlab/sim/trace"
)

// The PN532 names and codes below are NXP's (UM0701-02, "PN532 User
// Manual": the command list of chapter 7 and the error codes of 7.1),
// as docs/protocols/pn532.md ("Names in timelines") lists them.

// pn532Commands names each command code; a response's code is the
// command's plus one.
var pn532Commands = map[byte]string{
	0x00: "Diagnose", 0x02: "GetFirmwareVersion", 0x04: "GetGeneralStatus",
	0x06: "ReadRegister", 0x08: "WriteRegister", 0x0C: "ReadGPIO", 0x0E: "WriteGPIO",
	0x10: "SetSerialBaudRate", 0x12: "SetParameters", 0x14: "SAMConfiguration",
	0x16: "PowerDown", 0x32: "RFConfiguration", 0x58: "RFRegulationTest",
	0x56: "InJumpForDEP", 0x46: "InJumpForPSL", 0x4A: "InListPassiveTarget",
	0x50: "InATR", 0x4E: "InPSL", 0x40: "InDataExchange", 0x42: "InCommunicateThru",
	0x44: "InDeselect", 0x52: "InRelease", 0x54: "InSelect", 0x60: "InAutoPoll",
	0x8C: "TgInitAsTarget", 0x92: "TgSetGeneralBytes", 0x86: "TgGetData",
	0x8E: "TgSetData", 0x94: "TgSetMetaData", 0x88: "TgGetInitiatorCommand",
	0x90: "TgResponseToInitiator", 0x8A: "TgGetTargetStatus",
}

// pn532Errors names the error codes of a status byte's low six bits
// (UM0701-02 7.1, "Error handling").
var pn532Errors = map[byte]string{
	0x00: "success",
	0x01: "time-out, the target did not answer",
	0x02: "CRC error",
	0x03: "parity error",
	0x04: "erroneous bit count in anticollision",
	0x05: "framing error",
	0x06: "abnormal bit collision",
	0x07: "communication buffer too small",
	0x09: "RF buffer overflow",
	0x0A: "RF field not switched on in time",
	0x0B: "RF protocol error",
	0x0D: "temperature error",
	0x0E: "internal buffer overflow",
	0x10: "invalid parameter",
	0x12: "DEP: unsupported command",
	0x13: "DEP: invalid data format",
	0x14: "MIFARE authentication error",
	0x23: "UID check byte wrong",
	0x25: "DEP: invalid device state",
	0x26: "operation not allowed in this configuration",
	0x27: "command not acceptable now",
	0x29: "target released by the initiator",
	0x2A: "card ID does not match",
	0x2B: "card disappeared",
	0x2C: "NFCID3 mismatch",
	0x2D: "over-current",
	0x2E: "NAD missing",
}

// pn532 commands whose answer starts with a status byte.
var pn532WithStatus = map[byte]bool{
	0x40: true, 0x42: true, 0x44: true, 0x46: true, 0x4E: true, 0x50: true,
	0x52: true, 0x54: true, 0x56: true, 0x16: true, 0x86: true, 0x8E: true,
	0x92: true, 0x94: true, 0x90: true, 0x88: true,
}

// MIFARE commands inside InDataExchange (docs/protocols/pn532.md, Cards;
// NXP's MIFARE Classic and Ultralight data sheets).
var mifareCommands = map[byte]string{
	0x60: "Authenticate key A", 0x61: "Authenticate key B",
	0x30: "Read", 0xA0: "Write", 0xA2: "Ultralight Write",
	0xC0: "Decrement", 0xC1: "Increment", 0xC2: "Restore", 0xB0: "Transfer",
}

// noTarget is the Status of a poll that found no card.
const noTarget = "no target"

// pn532Frames splits one direction's bytes into PN532 units
// (UM0701-02 6.2.1): information frames, extended frames, ACK, NACK and
// the error frame, with what lies between them (the wake-up, noise).
func pn532Frames(s stream, d trace.Direction, redacted map[string]bool) []Frame {
	var out []Frame
	var lastCmd []byte // the host's last command body: it says what an answer holds
	other := func(i, j int) {
		if i >= j {
			return
		}
		b := s.b[i:j]
		if strings.Trim(string(b), "\x00") == "" {
			return // preambles and postambles
		}
		f := s.frame(d, i, j, KindOther)
		f.Name = "bytes " + hexBytes(b)
		if b[0] == 0x55 {
			f.Name, f.Detail = "HSU wake-up", hexBytes(b)
		}
		out = append(out, f)
	}
	i := 0
	for i < len(s.b) {
		j := indexStart(s.b, i)
		if j < 0 {
			other(i, len(s.b))
			break
		}
		start := j
		if start > i && s.b[start-1] == 0x00 {
			start-- // the preamble
		}
		other(i, start)
		if len(s.b) < j+4 {
			f := s.frame(d, start, len(s.b), KindBad)
			f.Name, f.Error = "incomplete frame", true
			out = append(out, f)
			break
		}
		ln, lcs := s.b[j+2], s.b[j+3]
		end, bodyAt, n := 0, 0, 0
		switch {
		case ln == 0x00 && lcs == 0xFF, ln == 0xFF && lcs == 0x00:
			end = postamble(s.b, j+4)
			f := s.frame(d, start, end, KindControl)
			f.Name = "ACK"
			if ln == 0xFF {
				f.Name = "NACK"
			}
			out = append(out, f)
			i = end
			continue
		case ln == 0xFF && lcs == 0xFF:
			if len(s.b) < j+7 {
				f := s.frame(d, start, len(s.b), KindBad)
				f.Name, f.Error = "incomplete frame", true
				out = append(out, f)
				i = len(s.b)
				continue
			}
			if s.b[j+4]+s.b[j+5]+s.b[j+6] != 0 {
				f := s.frame(d, start, j+7, KindBad)
				f.Name, f.Detail, f.Error = "bad frame", "extended length checksum", true
				out = append(out, f)
				i = j + 7
				continue
			}
			n, bodyAt = int(s.b[j+4])<<8|int(s.b[j+5]), j+7
		case ln+lcs != 0:
			f := s.frame(d, start, j+4, KindBad)
			f.Name, f.Detail, f.Error = "bad frame", fmt.Sprintf("LCS %02X does not check LEN %02X", lcs, ln), true
			out = append(out, f)
			i = j + 4 // the frame's end is unknown: look for the next start code
			continue
		default:
			n, bodyAt = int(ln), j+4
		}
		if len(s.b) < bodyAt+n+1 {
			f := s.frame(d, start, len(s.b), KindBad)
			f.Name, f.Error = "incomplete frame", true
			out = append(out, f)
			break
		}
		body, dcs := s.b[bodyAt:bodyAt+n], s.b[bodyAt+n]
		end = postamble(s.b, bodyAt+n+1)
		f := s.frame(d, start, end, KindFrame)
		var sum byte
		for _, c := range body {
			sum += c
		}
		switch {
		case n == 0:
			f.Kind, f.Name, f.Error = KindBad, "bad frame", true
			f.Detail = "no TFI"
		case sum+dcs != 0:
			f.Kind, f.Name, f.Error = KindBad, "bad frame", true
			f.Detail = fmt.Sprintf("DCS %02X, want %02X: %s", dcs, -sum, hexBytes(body))
		default:
			describePN532(&f, body, lastCmd, redacted)
			if d == trace.HostToDevice && body[0] == 0xD4 {
				lastCmd = body
			}
		}
		out = append(out, f)
		i = end
	}
	return out
}

// indexStart is where the start code 00 FF is at or after i, or -1.
func indexStart(b []byte, i int) int {
	for k := i; k+1 < len(b); k++ {
		if b[k] == 0x00 && b[k+1] == 0xFF {
			return k
		}
	}
	return -1
}

// postamble is the end of a unit ending before i, taking its 00
// postamble when it is there.
func postamble(b []byte, i int) int {
	if i < len(b) && b[i] == 0x00 && !(i+1 < len(b) && b[i+1] == 0xFF) {
		return i + 1
	}
	return i
}

// describePN532 names a good frame's TFI and data. cmd is the host's
// last command, which a response answers.
func describePN532(f *Frame, body, cmd []byte, redacted map[string]bool) {
	tfi := body[0]
	if tfi == 0x7F && len(body) == 1 {
		f.Name, f.Detail, f.Error = "error frame", "the chip could not take the command (syntax error)", true
		return
	}
	if len(body) < 2 || tfi != 0xD4 && tfi != 0xD5 {
		f.Name, f.Detail = fmt.Sprintf("TFI %02X", tfi), hexBytes(body[1:])
		return
	}
	code, data := body[1], body[2:]
	if tfi == 0xD5 {
		name, ok := pn532Commands[code-1]
		if !ok || code%2 == 0 {
			f.Name, f.Detail = fmt.Sprintf("response %02X", code), hexBytes(data)
			return
		}
		f.Name = name + " answer"
		pn532Answer(f, code-1, data, cmd, redacted)
		return
	}
	name, ok := pn532Commands[code]
	if !ok {
		f.Name, f.Detail = fmt.Sprintf("command %02X", code), hexBytes(data)
		return
	}
	f.Name = name
	pn532Command(f, code, data, redacted)
}

func pn532Command(f *Frame, code byte, data []byte, redacted map[string]bool) {
	var parts []string
	switch code {
	case 0x00:
		if len(data) > 0 {
			parts = append(parts, fmt.Sprintf("test %d", data[0]))
			if len(data) > 1 {
				parts = append(parts, "data "+hexBytes(data[1:]))
			}
		}
	case 0x14:
		if len(data) > 0 {
			mode := map[byte]string{1: "normal mode", 2: "virtual card", 3: "wired card", 4: "dual card"}[data[0]]
			if mode == "" {
				mode = fmt.Sprintf("mode %02X", data[0])
			}
			parts = append(parts, mode)
		}
		if len(data) > 1 {
			parts = append(parts, fmt.Sprintf("time-out %02X", data[1]))
		}
		if len(data) > 2 {
			parts = append(parts, map[bool]string{true: "IRQ", false: "no IRQ"}[data[2] == 1])
		}
	case 0x32:
		if len(data) > 0 {
			switch {
			case data[0] == 0x05 && len(data) == 4:
				parts = append(parts, fmt.Sprintf("MaxRetries ATR %02X, PSL %02X, passive activation %02X", data[1], data[2], data[3]))
			case data[0] == 0x01 && len(data) == 2:
				parts = append(parts, fmt.Sprintf("RF field %s", map[bool]string{true: "on", false: "off"}[data[1]&1 == 1]))
			default:
				parts = append(parts, fmt.Sprintf("item %02X %s", data[0], hexBytes(data[1:])))
			}
		}
	case 0x4A:
		if len(data) >= 2 {
			parts = append(parts, fmt.Sprintf("MaxTg %d", data[0]))
			if data[1] == 0x00 {
				parts = append(parts, "106 kbps type A")
			} else {
				parts = append(parts, fmt.Sprintf("BrTy %02X", data[1]))
			}
			if len(data) > 2 {
				parts = append(parts, "UID "+hexBytes(data[2:]))
			}
		}
	case 0x40:
		if len(data) > 0 {
			parts = append(parts, fmt.Sprintf("Tg %d", data[0]))
			parts = append(parts, mifareCommand(f, data[1:], redacted)...)
		}
	case 0x44, 0x52, 0x54:
		if len(data) > 0 {
			if data[0] == 0 {
				parts = append(parts, "Tg 0 (all)")
			} else {
				parts = append(parts, fmt.Sprintf("Tg %d", data[0]))
			}
		}
	default:
		if len(data) > 0 {
			parts = append(parts, hexBytes(data))
		}
	}
	f.Detail = strings.Join(parts, " · ")
}

// mifareCommand decodes a MIFARE command carried by InDataExchange.
func mifareCommand(f *Frame, b []byte, redacted map[string]bool) []string {
	if len(b) == 0 {
		return nil
	}
	name, ok := mifareCommands[b[0]]
	if !ok {
		return []string{"data " + hexBytes(b)}
	}
	if len(b) < 2 {
		return []string{"MIFARE " + name}
	}
	block := b[1]
	parts := []string{fmt.Sprintf("MIFARE %s block %d", name, block)}
	rest := b[2:]
	switch b[0] {
	case 0x60, 0x61:
		if len(rest) >= 6 {
			key := hexBytes(rest[:6])
			if redacted["pn532:keys"] {
				key, f.Redacted = redactedText, true
			}
			parts = append(parts, "key "+key)
			if len(rest) > 6 {
				parts = append(parts, "UID "+hexBytes(rest[6:]))
			}
		}
	case 0xA0, 0xA2:
		switch {
		case redacted["pn532:all-data"]:
			parts, f.Redacted = append(parts, "data "+redactedText), true
		case redacted["pn532:keys"] && trace.MIFARETrailer(block) && len(rest) == 16:
			f.Redacted = true
			parts = append(parts, fmt.Sprintf("trailer: key A %s, access bits %s, key B %s", redactedText, hexBytes(rest[6:10]), redactedText))
		case len(rest) > 0:
			parts = append(parts, "data "+hexBytes(rest))
		}
	}
	return parts
}

func pn532Answer(f *Frame, cmd byte, data, last []byte, redacted map[string]bool) {
	var parts []string
	if pn532WithStatus[cmd] && len(data) > 0 {
		st := data[0]
		name, ok := pn532Errors[st&0x3F]
		if !ok {
			name = "unknown error"
		}
		f.Status = fmt.Sprintf("status %02X: %s", st, name)
		f.Error = st&0x3F != 0
		data = data[1:]
	}
	switch cmd {
	case 0x02:
		if len(data) == 4 {
			ic := fmt.Sprintf("IC %02X", data[0])
			if data[0] == 0x32 {
				ic = "PN532"
			}
			parts = append(parts, fmt.Sprintf("%s v%d.%d, support %02X", ic, data[1], data[2], data[3]))
		}
	case 0x4A:
		if len(data) > 0 {
			if data[0] == 0 {
				f.Status = noTarget
			} else {
				parts = append(parts, fmt.Sprintf("NbTg %d", data[0]))
				parts = append(parts, targets(data[1:], data[0])...)
			}
		}
	case 0x40:
		if len(data) > 0 {
			switch {
			case redacted["pn532:all-data"]:
				parts, f.Redacted = append(parts, "data "+redactedText), true
			case redacted["pn532:keys"] && len(data) == 16 && isTrailerRead(last):
				f.Redacted = true
				parts = append(parts, fmt.Sprintf("trailer: key A %s, access bits %s, key B %s", redactedText, hexBytes(data[6:10]), redactedText))
			default:
				parts = append(parts, "data "+hexBytes(data))
			}
		}
	default:
		if len(data) > 0 {
			parts = append(parts, hexBytes(data))
		}
	}
	f.Detail = strings.Join(parts, " · ")
}

// targets decodes InListPassiveTarget's type A targets: Tg ATQA(2) SAK
// NFCIDLength NFCID1 [ATS] (UM0701-02 7.3.5).
func targets(b []byte, n byte) []string {
	var out []string
	for range n {
		if len(b) < 5 || len(b) < 5+int(b[4]) {
			return append(out, "data "+hexBytes(b))
		}
		l := int(b[4])
		s := fmt.Sprintf("Tg %d ATQA %s SAK %02X UID %s", b[0], hexBytes(b[1:3]), b[3], hexBytes(b[5:5+l]))
		b = b[5+l:]
		if len(b) > 0 && b[0] > 1 && int(b[0]) <= len(b) && n == 1 {
			s += " ATS " + hexBytes(b[:b[0]])
			b = b[b[0]:]
		}
		out = append(out, s)
	}
	return out
}

// isTrailerRead reports whether a host command body is a MIFARE read
// of a sector trailer: D4 40 Tg 30 block.
func isTrailerRead(b []byte) bool {
	return len(b) == 5 && b[0] == 0xD4 && b[1] == 0x40 && b[3] == 0x30 && trace.MIFARETrailer(b[4])
}
