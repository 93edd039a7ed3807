package acr122

import (
	"bytes"
	"fmt"

	"github.com/encoderlab/encoderlab/pipeline/driver/classic"
)

// The reader's pseudo-APDUs (class FF; ACR122U API V2.04, chapters 4 and
// 5; docs/protocols/acr122.md, "APDUs").
const (
	claReader  byte = 0xFF
	insGetData byte = 0xCA // API 4.1: get UID (P1 00), get ATS (P1 01)
	insLoadKey byte = 0x82 // API 5.1: load authentication keys
	insAuth    byte = 0x86 // API 5.2: authenticate
	insRead    byte = 0xB0 // API 5.3: read binary
	insUpdate  byte = 0xD6 // API 5.4: update binary
)

// MIFARE Classic key types of the authenticate APDU (API 5.2).
const (
	keyTypeA byte = 0x60
	keyTypeB byte = 0x61
)

// The reader's volatile key locations (API 5.1: key structure 00,
// locations 00 and 01). The transport key goes into 00, the system's key
// B into 01.
const (
	locTransport byte = 0x00
	locSystemB   byte = 0x01
)

// Status words the driver tells apart (API 4.1, 5.x).
const (
	swOK     uint16 = 0x9000
	swFailed uint16 = 0x6300 // the operation failed: a wrong key, access denied
)

// getUID is FF CA 00 00 00: the UID, all of it (Le 00).
func getUID() []byte { return []byte{claReader, insGetData, 0x00, 0x00, 0x00} }

// loadKey is FF 82 00 loc 06 key: key into volatile location loc.
func loadKey(loc byte, k classic.Key) []byte {
	return append([]byte{claReader, insLoadKey, 0x00, loc, 0x06}, k[:]...)
}

// authenticate is FF 86 00 00 05 01 00 block type loc: authenticate
// block's sector with the key in location loc, as key A (60) or B (61).
// The body is the API's authenticate data bytes: version 01, 00, block,
// key type, key number.
func authenticate(block, keyType, loc byte) []byte {
	return []byte{claReader, insAuth, 0x00, 0x00, 0x05, 0x01, 0x00, block, keyType, loc}
}

// readBinary is FF B0 00 block 10: the whole block.
func readBinary(block byte) []byte { return []byte{claReader, insRead, 0x00, block, 0x10} }

// updateBinary is FF D6 00 block 10 data: the whole block.
func updateBinary(block byte, data [16]byte) []byte {
	return append([]byte{claReader, insUpdate, 0x00, block, 0x10}, data[:]...)
}

// Technology names, as pipeline/driver reports them (those of the pn532
// driver).
const (
	techClassic1K  = "mifare-classic-1k"
	techClassic4K  = "mifare-classic-4k"
	techUltralight = "mifare-ultralight"
	techDESFire    = "desfire"
)

// part3Prefix begins the ATR the reader makes for an ISO 14443-3 card
// (API 3.1.1; PC/SC part 3): 3B 8F 80 01 80 4F 0C, the PC/SC RID A0 00
// 00 03 06, the standard 03 (ISO 14443A part 3). The card name (two
// bytes), four RFU bytes and TCK follow.
var part3Prefix = []byte{0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03}

// technology tells the card type from the ATR the reader made for it
// (docs/protocols/acr122.md, "ATR").
func technology(atr []byte) string {
	atr = ownLength(atr)
	if len(atr) == len(part3Prefix)+7 && bytes.HasPrefix(atr, part3Prefix) {
		switch name := [2]byte(atr[len(part3Prefix):]); name {
		case [2]byte{0x00, 0x01}:
			return techClassic1K
		case [2]byte{0x00, 0x02}:
			return techClassic4K
		case [2]byte{0x00, 0x03}:
			return techUltralight
		}
		return fmt.Sprintf("unknown (ATR % X)", atr)
	}
	// An ISO 14443-4 card (API 3.1.2): 3B 8n 80 01, then the ATS's n
	// historical bytes and TCK. DESFire and kin.
	if len(atr) >= 5 && atr[0] == 0x3B && atr[1]&0xF0 == 0x80 && atr[2] == 0x80 && atr[3] == 0x01 && len(atr) == 5+int(atr[1]&0x0F) {
		return techDESFire
	}
	return fmt.Sprintf("unknown (ATR % X)", atr)
}

// isClassic reports a technology this system's credentials live on.
func isClassic(tech string) bool { return tech == techClassic1K || tech == techClassic4K }

// ownLength is atr cut to the length its own bytes give (ISO/IEC 7816-3,
// 8.2: T0's K historical bytes, the interface bytes each TD announces,
// and TCK unless T=0 alone is offered). pcscd can list a card's ATR with
// bytes after it: vpcd (virtualsmartcard 0.8, ifd-vpcd.c) leaves the
// length pcscd passed in, the buffer's 33, on some power transitions, so
// the reader state holds the ATR and zeros. An ATR whose structure does
// not fit is returned as it is, for the caller to find unknown.
func ownLength(atr []byte) []byte {
	if len(atr) < 2 {
		return atr
	}
	n := 2 // TS and T0
	y := atr[1] >> 4
	hist := int(atr[1] & 0x0F)
	tck := false
	for {
		for bit := byte(1); bit <= 8; bit <<= 1 {
			if y&bit != 0 {
				n++
			}
		}
		if y&0x08 == 0 {
			break
		}
		// TD: the next interface bytes' presence and a protocol.
		if n > len(atr) {
			return atr
		}
		td := atr[n-1]
		if td&0x0F != 0 {
			tck = true
		}
		y = td >> 4
	}
	n += hist
	if tck {
		n++
	}
	if n > len(atr) {
		return atr
	}
	return atr[:n]
}
