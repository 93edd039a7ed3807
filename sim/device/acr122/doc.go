// Package acr122 is a virtual ACS ACR122U contactless reader as PC/SC
// sees it: the reader's pseudo-APDUs (FF CA get data, FF 82 load
// authentication keys, FF 86 and FF 88 authenticate, FF B0 read binary,
// FF D6 update binary) over the card in its field, implemented from ACS's
// "ACR122U Application Programming Interface" (V2.04) and
// docs/protocols/acr122.md, independently of the pipeline's driver.
// Debian's PC/SC tools (opensc-tool, pcsc_scan) are the reference
// clients: where they and this model disagree, the model is wrong.
//
// # Transport
//
// A real ACR122U sits on USB under pcscd's CCID driver. The virtual one
// reaches pcscd through vsmartcard's virtual reader driver (vpcd), whose
// socket protocol stands in for USB: every message is a 2-byte big-endian
// length and a payload; a 1-byte payload from pcscd is a control (00
// power off, 01 power on, 02 reset, none answered; 04 get ATR, answered
// with the ATR), any longer one is a command APDU answered with its
// response APDU. The card's connection closing makes vpcd eject the card.
// Serve answers with an empty message where a card would eject: "no card"
// to pcscd's presence polls (every 400 ms), "the card left" mid-command.
// Serve speaks that protocol on one stream, whatever carries it; Open
// carries it to a pcscd of the encoder's own (internal/pcscd), closing the
// connection at each empty answer and taking the next one vpcd accepts.
//
// # The field
//
// The reader holds one card at a time, as PC/SC presents a single slot.
// A 125 kHz card is on the reader but invisible to the 13.56 MHz field.
// The ATR is the reader's, built from the card's technology (API 3.1):
// ISO 14443 part 3 cards (MIFARE Classic 1K and 4K, Ultralight) get the
// PC/SC part 3 ATR with their card name; a DESFire, an ISO 14443 part 4
// card, gets 3B 81 80 01 80 80. Card memory is sim/card's: a blank card
// is factory-fresh, a guest or staff card holds its credential in sector
// 1 under the system's keys (card.CredentialBlocks), a foreign card has
// that sector locked with another system's keys. When the updates after
// one authentication write the three credential blocks and they decode to a complete
// credential, the model records it on the card with card.Write. A failed
// authentication halts the card, as MIFARE Classic does: it answers no
// card operation until pcscd resets or powers it again (a host's
// SCardReconnect with SCARD_RESET_CARD).
//
// # Commands a scenario counts
//
//   - "read": every get-data of the UID (FF CA 00 00), the host looking
//     at the card in the field;
//   - "encode": the first update binary to the credential sector after
//     an authentication, the host starting to write a credential.
//
// The reader has no cancel command.
//
// # Behaviours
//
// Silence withholds every answer; when it is lifted, a withheld answer is
// replaced by an eject, as a reader that hung and came back looks to
// pcscd. NAK, Garble and Busy do not apply (USB checks and retries every
// transfer, so no negative acknowledgement or damaged answer reaches the
// host, and the reader has no busy state): they are logged and ignored.
// Hold and Answer do not apply either: the reader
// relays what the card did, so Answer fails with ErrUnsupported.
package acr122
