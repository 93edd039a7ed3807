// Package acr122 is a driver.Driver for desk encoders that are an ACS
// ACR122U contactless reader under pcscd, the interface specified in
// docs/protocols/acr122.md (after ACS's "ACR122U Application Programming
// Interface" V2.04). The reader only relays MIFARE operations to the
// card; the card logic (keys, layout, checks) is the driver's, with the
// credential layout of package classic, which the pn532 driver shares
// (docs/protocols/pn532.md, "Card layout", "Keys", "What a card holds").
//
// # The port
//
// The encoder's port is the Unix socket of the pcscd that serves the
// reader: Open connects to it (the driver is a driver.Opener), and each
// Encode or Scan speaks pcscd's own protocol over it (package pcsc):
// it establishes an application context and releases it at the end,
// leaving the socket open for the next call, as pcscd takes a new
// context on the same socket. An exchange with pcscd cut off part-way
// (ctx ended, T_answer passed, the socket failed) leaves the stream out of
// step; the driver keeps no state between calls, so it then closes the
// port, and the pipeline opens the socket again before the next encode.
//
// # An encode
//
//  1. establish a context; list the readers (none: NotAnswering) and take
//     the first with a card, waiting for pcscd to report one
//     (SCardGetStatusChange) until Timing.CardWait passes (NoCard);
//  2. connect to the card, shared; read its UID (FF CA 00 00 00); tell
//     its technology from the ATR the reader made: not MIFARE Classic
//     (Ultralight, DESFire, unknown) is IncompatibleCard;
//  3. load the system's key B into the reader's location 01
//     (FF 82 00 01 06 key) and authenticate the credential sector (1)
//     with it (FF 86 00 00 05 01 00 04 61 01); refused (63 00), the card
//     halts: reset it (SCardReconnect, SCARD_RESET_CARD), load the
//     transport key into location 00 and authenticate with it as key A
//     (a blank card); refused again: a card of another system,
//     IncompatibleCard;
//  4. on a card of the system, read blocks 4–6 (FF B0 00 bb 10): a staff
//     credential is CannotOverwrite;
//  5. write blocks 4–6 (FF D6 00 bb 10 data), and on a blank card the
//     sector trailer (block 7) last, with the system's keys and access
//     bits;
//  6. reset the card, authenticate with the system's key B, read blocks
//     4–6 back and compare (a difference is Device); disconnect, leaving
//     the card (resetting it when its last authentication failed), and
//     release the context.
//
// Each exchange with pcscd, an APDU's round trip above all, must end
// within Timing.Answer (NotAnswering). The card leaving mid-command
// (a response with no status word, SCARD_E_NOT_TRANSACTED,
// SCARD_W_REMOVED_CARD) is Interrupted; pcscd's socket closing is
// Hangup; 63 00 on a read or update, any other status word and a
// malformed answer are Device. The card number reported is the UID in
// upper-case hex. The driver's Outcomes table is in the protocol
// document.
package acr122
