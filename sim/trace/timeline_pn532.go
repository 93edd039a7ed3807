package trace

import (
	"fmt"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
)

// PN532Timeline is how a timeline reads a PN532 line (the PN532 model's
// model.Protocol.Timeline): information and extended frames with the
// commands and answers named, MIFARE commands inside InDataExchange and
// the status byte decoded, ACK, NACK, the error frame, and what lies
// between frames (the wake-up, noise). Its bytes are mostly binary, so
// it names no control bytes in text.
var PN532Timeline = &model.Timeline{Units: pn532Units, Replies: pn532Replies}

// pn532Units cuts one direction of a PN532 line; pn532Replies the
// chip's, knowing the host's commands: a block read back is a trailer's,
// and its redacted keys are marked, when the command read a trailer.
func pn532Units(b []byte, fromHost bool, redacted map[string]bool) []model.Unit {
	units, _ := pn532Cut(b, fromHost, redacted, nil)
	return units
}

func pn532Replies(b []byte, command func(i int) []byte, redacted map[string]bool) []model.Unit {
	units, _ := pn532Cut(b, false, redacted, func(i int) []byte { return pn532Body(command(i)) })
	return units
}

// pn532Body is the body (TFI and data) of the first good information
// frame in b, nil when there is none.
func pn532Body(b []byte) []byte {
	units, bodies := pn532Cut(b, true, nil, nil)
	for k := range units {
		if body, ok := bodies[k]; ok {
			return body
		}
	}
	return nil
}

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

// pn532NoTarget is the Status of a poll that found no card.
const pn532NoTarget = "no target"

// pn532Cut splits one direction's bytes into PN532 units (UM0701-02
// 6.2.1): information frames, extended frames, ACK, NACK and the error
// frame, with what lies between them (the wake-up, noise), and gives
// each good information frame's body by its unit's index. command, when set, is the host's command body before the
// device's byte i; without it the host's last command in b stands (none
// in the device's direction).
func pn532Cut(b []byte, fromHost bool, redacted map[string]bool, command func(i int) []byte) ([]model.Unit, map[int][]byte) {
	var out []model.Unit
	bodies := map[int][]byte{} // by unit
	var lastCmd []byte         // the host's last command body: it says what an answer holds
	other := func(i, j int) {
		if i >= j {
			return
		}
		o := b[i:j]
		if strings.Trim(string(o), "\x00") == "" {
			return // preambles and postambles
		}
		u := model.Unit{Start: i, End: j, Kind: model.UnitOther, Name: "bytes " + hexBytes(o)}
		if o[0] == 0x55 {
			u.Name, u.Detail = "HSU wake-up", hexBytes(o)
		}
		out = append(out, u)
	}
	bad := func(i, j int, name, detail string) {
		out = append(out, model.Unit{Start: i, End: j, Kind: model.UnitBad, Name: name, Detail: detail, Error: true})
	}
	i := 0
	for i < len(b) {
		j := pn532IndexStart(b, i)
		if j < 0 {
			other(i, len(b))
			break
		}
		start := j
		if start > i && b[start-1] == 0x00 {
			start-- // the preamble
		}
		other(i, start)
		if len(b) < j+4 {
			bad(start, len(b), "incomplete frame", "")
			break
		}
		ln, lcs := b[j+2], b[j+3]
		end, bodyAt, n := 0, 0, 0
		switch {
		case ln == 0x00 && lcs == 0xFF, ln == 0xFF && lcs == 0x00:
			end = pn532Postamble(b, j+4)
			u := model.Unit{Start: start, End: end, Kind: model.UnitControl, Name: "ACK", Link: model.LinkACK}
			if ln == 0xFF {
				u.Name, u.Link = "NACK", model.LinkNAK
			}
			out = append(out, u)
			i = end
			continue
		case ln == 0xFF && lcs == 0xFF:
			if len(b) < j+7 {
				bad(start, len(b), "incomplete frame", "")
				i = len(b)
				continue
			}
			if b[j+4]+b[j+5]+b[j+6] != 0 {
				bad(start, j+7, "bad frame", "extended length checksum")
				i = j + 7
				continue
			}
			n, bodyAt = int(b[j+4])<<8|int(b[j+5]), j+7
		case ln+lcs != 0:
			bad(start, j+4, "bad frame", fmt.Sprintf("LCS %02X does not check LEN %02X", lcs, ln))
			i = j + 4 // the frame's end is unknown: look for the next start code
			continue
		default:
			n, bodyAt = int(ln), j+4
		}
		if len(b) < bodyAt+n+1 {
			bad(start, len(b), "incomplete frame", "")
			break
		}
		body, dcs := b[bodyAt:bodyAt+n], b[bodyAt+n]
		end = pn532Postamble(b, bodyAt+n+1)
		u := model.Unit{Start: start, End: end, Kind: model.UnitFrame}
		var sum byte
		for _, c := range body {
			sum += c
		}
		switch {
		case n == 0:
			u.Kind, u.Name, u.Error = model.UnitBad, "bad frame", true
			u.Detail = "no TFI"
		case sum+dcs != 0:
			u.Kind, u.Name, u.Error = model.UnitBad, "bad frame", true
			u.Detail = fmt.Sprintf("DCS %02X, want %02X: %s", dcs, -sum, hexBytes(body))
		default:
			cmd := lastCmd
			if command != nil {
				cmd = command(start)
			}
			namePN532(&u, body, cmd, redacted)
			if fromHost && body[0] == 0xD4 {
				lastCmd = body
			}
			bodies[len(out)] = body
		}
		out = append(out, u)
		i = end
	}
	return out, bodies
}

// pn532IndexStart is where the start code 00 FF is at or after i, or
// -1.
func pn532IndexStart(b []byte, i int) int {
	for k := i; k+1 < len(b); k++ {
		if b[k] == 0x00 && b[k+1] == 0xFF {
			return k
		}
	}
	return -1
}

// pn532Postamble is the end of a unit ending before i, taking its 00
// postamble when it is there.
func pn532Postamble(b []byte, i int) int {
	if i < len(b) && b[i] == 0x00 && !(i+1 < len(b) && b[i+1] == 0xFF) {
		return i + 1
	}
	return i
}

// namePN532 names a good frame's TFI and data. cmd is the host's last
// command, which a response answers.
func namePN532(f *model.Unit, body, cmd []byte, redacted map[string]bool) {
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

func pn532Command(f *model.Unit, code byte, data []byte, redacted map[string]bool) {
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
func mifareCommand(f *model.Unit, b []byte, redacted map[string]bool) []string {
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
				key, f.Redacted = model.RedactedText, true
			}
			parts = append(parts, "key "+key)
			if len(rest) > 6 {
				parts = append(parts, "UID "+hexBytes(rest[6:]))
			}
		}
	case 0xA0, 0xA2:
		switch {
		case redacted["pn532:all-data"]:
			parts, f.Redacted = append(parts, "data "+model.RedactedText), true
		case redacted["pn532:keys"] && MIFARETrailer(block) && len(rest) == 16:
			f.Redacted = true
			parts = append(parts, fmt.Sprintf("trailer: key A %s, access bits %s, key B %s", model.RedactedText, hexBytes(rest[6:10]), model.RedactedText))
		case len(rest) > 0:
			parts = append(parts, "data "+hexBytes(rest))
		}
	}
	return parts
}

func pn532Answer(f *model.Unit, cmd byte, data, last []byte, redacted map[string]bool) {
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
				f.Status, f.NoCard = pn532NoTarget, true
			} else {
				parts = append(parts, fmt.Sprintf("NbTg %d", data[0]))
				parts = append(parts, pn532Targets(data[1:], data[0])...)
			}
		}
	case 0x40:
		if len(data) > 0 {
			switch {
			case redacted["pn532:all-data"]:
				parts, f.Redacted = append(parts, "data "+model.RedactedText), true
			case redacted["pn532:keys"] && len(data) == 16 && isTrailerRead(last):
				f.Redacted = true
				parts = append(parts, fmt.Sprintf("trailer: key A %s, access bits %s, key B %s", model.RedactedText, hexBytes(data[6:10]), model.RedactedText))
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

// pn532Targets decodes InListPassiveTarget's type A targets: Tg ATQA(2) SAK
// NFCIDLength NFCID1 [ATS] (UM0701-02 7.3.5).
func pn532Targets(b []byte, n byte) []string {
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
