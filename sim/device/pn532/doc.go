// Package pn532 is a virtual NXP PN532 NFC front end on a serial line:
// the chip side of the host interface in docs/protocols/pn532.md (HSU
// frames with LCS and DCS, ACK and NACK frames, extended frames, the
// error frame), implemented from that page and from NXP's UM0701-02,
// independently of the pipeline's driver. libnfc's pn532_uart driver is
// the reference client: where libnfc and this model disagree, the model
// is wrong.
//
// A Device has two halves. The model is the chip's field and the cards in
// it (Place, Remove): ISO 14443 A identities with the ATQA and SAK of
// their technology, MIFARE Classic memory with keys and access bits
// (sim/card.ClassicMemory), Ultralight pages, a DESFire that answers
// select with an ATS. A 125 kHz card is on the reader but invisible to
// the 13.56 MHz field. The model lives as long as the Device. Serve is
// the chip on one line: each Serve starts a freshly powered chip
// (registers, settings, selected targets), as plugging an encoder in does.
//
// # Card memory and contents
//
// A card's MIFARE Classic memory is built from its contents the first
// time the chip needs it: a blank card is factory-fresh (transport keys
// FFFFFFFFFFFF, transport access bits); a guest or staff card holds its
// credential in sector 1 under the system's keys (Config.SystemKeyA/B);
// a foreign card has sector 1 locked with keys of another system. When a
// selection writes the three credential blocks and they decode to a
// complete credential, the model records it on the card with card.Write,
// so a scenario checks what was written the same way for every model.
//
// # Commands a scenario counts
//
//   - "read": every InListPassiveTarget and InAutoPoll, the host looking
//     for a card;
//   - "encode": the first write to the credential sector after a target
//     is selected, the host starting to write a credential;
//   - "cancel": the host aborting a command in progress with an ACK frame.
//
// # Behaviours
//
// NAK answers information frames with a NACK frame and does not act on
// them; Garble corrupts the DCS of response frames; Silence drops
// everything the chip sends (commands are still acted on); Busy answers
// the next encode commands with status 0x27 without writing. Hold and
// Answer do not apply: the chip has no answer of its own to script (the
// host decides what a card means), so Answer fails with ErrUnsupported.
//
// A damaged frame (bad DCS) is ignored, not NACKed, as the chip does: the
// host re-sends when no ACK comes. A new command while one is in progress
// (InListPassiveTarget waiting for a card, a block being written) aborts
// the old one, unanswered.
package pn532
