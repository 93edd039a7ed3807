// Package pn532 is a driver.Driver for desk encoders built on an NXP
// PN532 NFC front end over a serial line (HSU), the interface specified
// in docs/protocols/pn532.md. The chip only relays frames to the card;
// the card logic (keys, layout, checks) is the driver's, with the
// credential layout of package classic, which the acr122 driver shares.
//
// # Frames
//
// Host and chip exchange information frames, 00 00 FF LEN LCS TFI data
// DCS 00 (LEN counts TFI and data, LCS = -LEN, DCS = -(TFI + data); host
// TFI D4, chip D5, the response code is the command's plus one), extended
// frames for long data, ACK and NACK frames, and the chip's error frame.
// Each command is ACKed by the chip, then answered. The driver re-sends a
// command the chip NACKs or does not ACK within Timing.Ack, NACKs a
// damaged response so the chip sends it again, at most Timing.Retries
// times each, and aborts a command in progress with an ACK frame when
// the caller's context ends. Before each command it discards input left
// on the line; only a chip frame (TFI D5) carrying the command's code
// plus one answers it, and other frames are passed over.
//
// # An encode
//
//  1. drain stale input; send the wake-up preamble and SAMConfiguration;
//     check GetFirmwareVersion names a PN532; set MxRtyPassiveActivation
//     to 0 so each InListPassiveTarget looks once;
//  2. poll with InListPassiveTarget every Timing.Poll until a card answers
//     or Timing.CardWait passes (NoCard);
//  3. a card that is not MIFARE Classic (by its SAK) is IncompatibleCard;
//  4. authenticate the credential sector (1) with the system's key B; if
//     that fails, select the card again and try the transport key A
//     (FFFFFFFFFFFF, a blank card); neither: a card of another system,
//     IncompatibleCard;
//  5. on a card of the system, read blocks 4–6: a staff credential is
//     CannotOverwrite;
//  6. write blocks 4–6, and on a blank card the sector trailer with the
//     system's keys and access bits; a write answered with status 0x27
//     (busy) starts the encode over after Timing.Busy, at most Retries
//     times (Busy);
//  7. select the card again, authenticate with the system's key B, read
//     blocks 4–6 back and compare; release the card.
//
// The card number reported is the UID in upper-case hex. The driver's
// Outcomes table is in the protocol document.
package pn532
