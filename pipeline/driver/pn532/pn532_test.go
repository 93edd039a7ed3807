package pn532

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/driver/classic"
)

// testTiming keeps every wait short but generous for a loaded machine.
func testTiming() Timing {
	return Timing{
		Ack:      500 * time.Millisecond,
		Answer:   2 * time.Second,
		Poll:     5 * time.Millisecond,
		CardWait: 200 * time.Millisecond,
		Busy:     time.Millisecond,
		Retries:  3,
	}
}

var guestJob = driver.Job{
	CardID:   "9F2C4D1A00000001",
	Function: driver.Guest,
	StartsAt: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC),
	EndsAt:   time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC),
	Label:    "Room 101",
}

// wantBlocks is guestJob's credential sector, written out by hand from
// the layout in docs/protocols/pn532.md; its CRC (16 64) is the one the
// document's "Worked credential sector" gives.
var wantBlocks = [3][16]byte{
	{'E', 'L', 0x01, 'G', 0x9F, 0x2C, 0x4D, 0x1A, 0x00, 0x00, 0x00, 0x01, 0x16, 0x64, 0, 0},
	{0x20, 0x26, 0x11, 0x25, 0x14, 0x00, 0x20, 0x26, 0x11, 0x28, 0x11, 0x00},
	{'R', 'o', 'o', 'm', ' ', '1', '0', '1'},
}

func (ch *testChip) block(n int) [16]byte {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.card.blocks[n]
}

func encode(t *testing.T, host driver.Port, job driver.Job) (driver.Card, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return New(testTiming()).Encode(ctx, host, job)
}

func wantKind(t *testing.T, err error, k driver.Kind) {
	t.Helper()
	if got := driver.KindOf(err); got != k {
		t.Fatalf("err = %v (kind %v), want kind %v", err, got, k)
	}
}

func TestEncodeBlankCard(t *testing.T) {
	ch, host := newTestChip(t, classicCard(0x04, 0xA1, 0xB2, 0xC3))
	got, err := encode(t, host, guestJob)
	if err != nil {
		t.Fatal(err)
	}
	want := driver.Card{Number: "04A1B2C3", Technology: "mifare-classic-1k", CardID: guestJob.CardID}
	if got != want {
		t.Errorf("Encode = %+v, want %+v", got, want)
	}
	for i, w := range wantBlocks {
		if b := ch.block(4 + i); b != w {
			t.Errorf("block %d = % X, want % X", 4+i, b, w)
		}
	}
	wantTrailer := [16]byte{0x45, 0x4C, 0x41, 0x42, 0x4B, 0x41, 0x78, 0x77, 0x88, 0x69, 0x45, 0x4C, 0x41, 0x42, 0x4B, 0x42}
	if b := ch.block(7); b != wantTrailer {
		t.Errorf("trailer = % X, want % X", b, wantTrailer)
	}
	if w := ch.writes(); !bytes.Equal(w, []byte{4, 5, 6, 7}) {
		t.Errorf("blocks written % X, want 04 05 06 07", w)
	}
	wantCmds := []byte{
		cmdSAMConfiguration, cmdGetFirmwareVersion, cmdRFConfiguration,
		cmdInListPassiveTarget, cmdInDataExchange, // key B fails
		cmdInListPassiveTarget, cmdInDataExchange, // transport key A
		cmdInDataExchange, cmdInDataExchange, cmdInDataExchange, cmdInDataExchange, // write 4-7
		cmdInListPassiveTarget, cmdInDataExchange, // verify: select, key B
		cmdInDataExchange, cmdInDataExchange, cmdInDataExchange, // read 4-6
		cmdInRelease,
	}
	if c := ch.commands(); !bytes.Equal(c, wantCmds) {
		t.Errorf("commands % X\nwant     % X", c, wantCmds)
	}
}

// TestEncodeSelectsByCascadedUID encodes blank cards of the three UID
// sizes of ISO/IEC 14443-3, each of which the driver must select again
// twice (after key B is refused, and to verify). The selections must
// carry the UID as UM0701-02 7.3.5 gives it, the cascade tag 0x88 before
// every level but the last, and the authentications the UID's last four
// bytes; the vectors are written out by hand from those tables.
func TestEncodeSelectsByCascadedUID(t *testing.T) {
	for _, c := range []struct {
		name       string
		uid        []byte
		atqa       [2]byte
		selectData []byte
		authUID    []byte
	}{
		{"single", []byte{0x04, 0xA1, 0xB2, 0xC3}, [2]byte{0x00, 0x04},
			[]byte{0x04, 0xA1, 0xB2, 0xC3}, []byte{0x04, 0xA1, 0xB2, 0xC3}},
		{"double", []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}, [2]byte{0x00, 0x44},
			[]byte{0x88, 0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}, []byte{0xC3, 0xD4, 0xE5, 0xF6}},
		{"triple", []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x07, 0x18, 0x29}, [2]byte{0x00, 0x84},
			[]byte{0x88, 0x04, 0xA1, 0xB2, 0x88, 0xC3, 0xD4, 0xE5, 0xF6, 0x07, 0x18, 0x29}, []byte{0xF6, 0x07, 0x18, 0x29}},
	} {
		t.Run(c.name, func(t *testing.T) {
			card := classicCard(c.uid...)
			card.atqa = c.atqa
			ch, host := newTestChip(t, card)
			got, err := encode(t, host, guestJob)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ToUpper(hex.EncodeToString(c.uid)); got.Number != want {
				t.Errorf("card number %s, want %s", got.Number, want)
			}
			var selects, auths [][]byte
			ch.mu.Lock()
			for _, cmd := range ch.cmds {
				switch {
				case cmd[0] == cmdInListPassiveTarget && len(cmd) > 3:
					selects = append(selects, cmd[3:])
				case cmd[0] == cmdInDataExchange && (cmd[2] == mfAuthA || cmd[2] == mfAuthB):
					auths = append(auths, cmd[10:])
				}
			}
			ch.mu.Unlock()
			if len(selects) != 2 {
				t.Errorf("%d selections by UID, want 2 (after key B, to verify)", len(selects))
			}
			for _, s := range selects {
				if !bytes.Equal(s, c.selectData) {
					t.Errorf("InListPassiveTarget InitiatorData % X, want % X", s, c.selectData)
				}
			}
			for _, a := range auths {
				if !bytes.Equal(a, c.authUID) {
					t.Errorf("authentication UID % X, want % X", a, c.authUID)
				}
			}
		})
	}
}

// systemCard is a card already written by the system with blocks b.
func systemCard(b [3][16]byte) *testCard {
	c := classicCard(0x04, 0xE2, 0xF3, 0xA4, 0xB5, 0xC6, 0xD7)
	c.atqa = [2]byte{0x00, 0x44}
	copy(c.blocks[4:7], b[:])
	c.blocks[7] = [16]byte{0x45, 0x4C, 0x41, 0x42, 0x4B, 0x41, 0x78, 0x77, 0x88, 0x69, 0x45, 0x4C, 0x41, 0x42, 0x4B, 0x42}
	return c
}

func TestEncodeGuestCardIsOverwritten(t *testing.T) {
	old, err := classic.Blocks(driver.Job{CardID: "0000000000000002", Function: driver.Guest})
	if err != nil {
		t.Fatal(err)
	}
	ch, host := newTestChip(t, systemCard(old))
	got, err := encode(t, host, guestJob)
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != "04E2F3A4B5C6D7" {
		t.Errorf("card number %q", got.Number)
	}
	if w := ch.writes(); !bytes.Equal(w, []byte{4, 5, 6}) {
		t.Errorf("blocks written % X, want 04 05 06 (keys stay)", w)
	}
}

func TestEncodeStaffCardIsRefused(t *testing.T) {
	staff, err := classic.Blocks(driver.Job{CardID: "00000000000000AA", Function: driver.Staff})
	if err != nil {
		t.Fatal(err)
	}
	ch, host := newTestChip(t, systemCard(staff))
	_, err = encode(t, host, guestJob)
	wantKind(t, err, driver.CannotOverwrite)
	if w := ch.writes(); len(w) != 0 {
		t.Errorf("blocks written % X on a refused card", w)
	}
}

func TestEncodeForeignCard(t *testing.T) {
	c := classicCard(1, 2, 3, 4)
	c.blocks[7] = [16]byte{1, 1, 1, 1, 1, 1, 0x78, 0x77, 0x88, 0x69, 2, 2, 2, 2, 2, 2}
	ch, host := newTestChip(t, c)
	_, err := encode(t, host, guestJob)
	wantKind(t, err, driver.IncompatibleCard)
	if w := ch.writes(); len(w) != 0 {
		t.Errorf("blocks written % X on another system's card", w)
	}
}

func TestEncodeOtherTechnologies(t *testing.T) {
	for _, tc := range []struct {
		name string
		atqa [2]byte
		sak  byte
	}{
		{"ultralight", [2]byte{0x00, 0x44}, 0x00},
		{"desfire", [2]byte{0x03, 0x44}, 0x20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := classicCard(0x04, 1, 2, 3, 4, 5, 6)
			c.atqa, c.sak = tc.atqa, tc.sak
			ch, host := newTestChip(t, c)
			_, err := encode(t, host, guestJob)
			wantKind(t, err, driver.IncompatibleCard)
			if slices.Contains(ch.commands(), cmdInDataExchange) {
				t.Error("the driver talked to a card it cannot use")
			}
		})
	}
}

func TestEncodeEmptyField(t *testing.T) {
	ch, host := newTestChip(t, nil)
	_, err := encode(t, host, guestJob)
	wantKind(t, err, driver.NoCard)
	n := 0
	for _, c := range ch.commands() {
		if c == cmdInListPassiveTarget {
			n++
		}
	}
	if n < 2 {
		t.Errorf("polled %d times, want repeated polls until T_card", n)
	}
}

func TestEncodeCardLeavesDuringWrite(t *testing.T) {
	ch, host := newTestChip(t, classicCard(1, 2, 3, 4), func(ch *testChip) { ch.goneAfter = 1 })
	_, err := encode(t, host, guestJob)
	wantKind(t, err, driver.Interrupted)
	if w := ch.writes(); !bytes.Equal(w, []byte{4, 5}) {
		t.Errorf("write attempts % X, want 04 05 (the second finds no card)", w)
	}
}

func TestEncodeBusy(t *testing.T) {
	ch, host := newTestChip(t, classicCard(1, 2, 3, 4), func(ch *testChip) { ch.busy = true })
	_, err := encode(t, host, guestJob)
	wantKind(t, err, driver.Busy)
	if w := ch.writes(); len(w) != testTiming().Retries+1 {
		t.Errorf("%d write attempts, want %d", len(w), testTiming().Retries+1)
	}
}

func TestEncodeLinkFailures(t *testing.T) {
	t.Run("silent", func(t *testing.T) {
		_, host := newTestChip(t, classicCard(1, 2, 3, 4), func(ch *testChip) { ch.silent = true })
		_, err := encode(t, host, guestJob)
		wantKind(t, err, driver.NotAnswering)
	})
	t.Run("NACK to everything", func(t *testing.T) {
		_, host := newTestChip(t, classicCard(1, 2, 3, 4), func(ch *testChip) { ch.nackAll = true })
		_, err := encode(t, host, guestJob)
		wantKind(t, err, driver.Link)
	})
	t.Run("damaged responses", func(t *testing.T) {
		_, host := newTestChip(t, classicCard(1, 2, 3, 4), func(ch *testChip) { ch.garble = 1000 })
		_, err := encode(t, host, guestJob)
		wantKind(t, err, driver.Link)
		var fe *FrameError
		if !errors.As(err, &fe) {
			t.Errorf("err = %v, want a *FrameError in its chain", err)
		}
	})
	t.Run("damaged responses asked for again", func(t *testing.T) {
		ch, host := newTestChip(t, classicCard(1, 2, 3, 4), func(ch *testChip) { ch.garble = 2 })
		if _, err := encode(t, host, guestJob); err != nil {
			t.Fatal(err)
		}
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if ch.nacks != 2 {
			t.Errorf("host sent %d NACK frames, want 2", ch.nacks)
		}
	})
	t.Run("not a PN532", func(t *testing.T) {
		_, host := newTestChip(t, classicCard(1, 2, 3, 4), func(ch *testChip) { ch.fw = []byte{0x07, 0x01, 0x00, 0x00} })
		_, err := encode(t, host, guestJob)
		wantKind(t, err, driver.Device)
	})
	t.Run("hangup", func(t *testing.T) {
		ch, host := newTestChip(t, classicCard(1, 2, 3, 4))
		ch.conn.Close()
		_, err := encode(t, host, guestJob)
		wantKind(t, err, driver.Hangup)
	})
}

func TestEncodeContextEndsWhileWaiting(t *testing.T) {
	ch, host := newTestChip(t, nil)
	tm := testTiming()
	tm.CardWait = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := New(tm).Encode(ctx, host, guestJob)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if driver.KindOf(err) != 0 {
		t.Errorf("err has kind %v; a deadline is the caller's, not the encoder's", driver.KindOf(err))
	}
	// The poll in progress was aborted with an ACK frame, or the
	// deadline fell between two polls.
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.aborts > 1 {
		t.Errorf("%d aborts, want at most one", ch.aborts)
	}
}

func TestEncodeInvalidJob(t *testing.T) {
	ch, host := newTestChip(t, classicCard(1, 2, 3, 4))
	for _, job := range []driver.Job{
		{CardID: "9f2c4d1a00000001", Function: driver.Guest},
		{CardID: "9F2C", Function: driver.Guest},
		{CardID: guestJob.CardID, Function: "owner"},
		{CardID: guestJob.CardID, Function: driver.Guest, EndsAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		_, err := encode(t, host, job)
		if !errors.Is(err, ErrInvalidJob) {
			t.Errorf("Encode(%+v): err = %v, want ErrInvalidJob", job, err)
		} else if !strings.HasPrefix(err.Error(), "pn532: invalid job: ") {
			t.Errorf("Encode(%+v): %q, want it to start \"pn532: invalid job: \"", job, err)
		}
	}
	if c := ch.commands(); len(c) != 0 {
		t.Errorf("commands sent for invalid jobs: % X", c)
	}
}

// blankCommands are the commands of an encode of a blank card, each taken
// once.
var blankCommands = []byte{
	cmdSAMConfiguration, cmdGetFirmwareVersion, cmdRFConfiguration,
	cmdInListPassiveTarget, cmdInDataExchange,
	cmdInListPassiveTarget, cmdInDataExchange,
	cmdInDataExchange, cmdInDataExchange, cmdInDataExchange, cmdInDataExchange,
	cmdInListPassiveTarget, cmdInDataExchange,
	cmdInDataExchange, cmdInDataExchange, cmdInDataExchange,
	cmdInRelease,
}

// encodeBlank encodes guestJob onto a blank card through a chip with
// faults opts and checks the card holds it.
func encodeBlank(t *testing.T, opts ...func(*testChip)) *testChip {
	t.Helper()
	ch, host := newTestChip(t, classicCard(0x04, 0xA1, 0xB2, 0xC3), opts...)
	if _, err := encode(t, host, guestJob); err != nil {
		t.Fatal(err)
	}
	for i, w := range wantBlocks {
		if b := ch.block(4 + i); b != w {
			t.Errorf("block %d = % X, want % X", 4+i, b, w)
		}
	}
	return ch
}

func TestEncodeACKDamagedIntoFrame(t *testing.T) {
	// The frame with TFI 00 is not the chip's: no ACK, and not the
	// response, which follows it.
	ch := encodeBlank(t, func(ch *testChip) { ch.badACK = 1000 })
	if c := ch.commands(); !bytes.Equal(c, blankCommands) {
		t.Errorf("commands % X\nwant     % X", c, blankCommands)
	}
}

func TestEncodeDamagedLength(t *testing.T) {
	t.Run("asked for again", func(t *testing.T) {
		ch := encodeBlank(t, func(ch *testChip) { ch.badLen = 2 })
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if ch.nacks != 2 {
			t.Errorf("host sent %d NACK frames, want 2", ch.nacks)
		}
	})
	t.Run("every time", func(t *testing.T) {
		ch, host := newTestChip(t, classicCard(1, 2, 3, 4), func(ch *testChip) { ch.badLen = 1000 })
		_, err := encode(t, host, guestJob)
		wantKind(t, err, driver.Link)
		var fe *FrameError
		if !errors.As(err, &fe) {
			t.Errorf("err = %v, want a *FrameError in its chain", err)
		}
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if want := testTiming().Retries; ch.nacks != want {
			t.Errorf("host sent %d NACK frames, want %d", ch.nacks, want)
		}
	})
}

func TestEncodeResponseSentTwice(t *testing.T) {
	// Each second copy is on the line before the next command: taken, it
	// would answer the next InDataExchange with the last one's status.
	ch := encodeBlank(t, func(ch *testChip) { ch.twice = 1000 })
	if c := ch.commands(); !bytes.Equal(c, blankCommands) {
		t.Errorf("commands % X\nwant     % X", c, blankCommands)
	}
}

func TestEncodeStaleResponseIgnored(t *testing.T) {
	// After its ACK, each InListPassiveTarget is answered first with the
	// previous command's response: not this command's code.
	ch := encodeBlank(t, func(ch *testChip) { ch.staleBeforePoll = true })
	if c := ch.commands(); !bytes.Equal(c, blankCommands) {
		t.Errorf("commands % X\nwant     % X", c, blankCommands)
	}
}

func TestEncodeLateACKAnsweredOnce(t *testing.T) {
	// The chip answers the key B authentication only once the host sent
	// it again, then both copies: the second response would otherwise be
	// taken for the read of block 4 that follows.
	old, err := classic.Blocks(driver.Job{CardID: "0000000000000002", Function: driver.Guest})
	if err != nil {
		t.Fatal(err)
	}
	ch, host := newTestChip(t, systemCard(old), func(ch *testChip) { ch.lateAuthB = true })
	if _, err := encode(t, host, guestJob); err != nil {
		t.Fatal(err)
	}
	if w := ch.writes(); !bytes.Equal(w, []byte{4, 5, 6}) {
		t.Errorf("blocks written % X, want 04 05 06", w)
	}
	want := []byte{
		cmdSAMConfiguration, cmdGetFirmwareVersion, cmdRFConfiguration,
		cmdInListPassiveTarget, cmdInDataExchange, cmdInDataExchange, // key B, sent twice
		cmdDiagnose,                                             // line test: the second answer is off the line
		cmdInDataExchange, cmdInDataExchange, cmdInDataExchange, // read 4-6
		cmdInDataExchange, cmdInDataExchange, cmdInDataExchange, // write 4-6
		cmdInListPassiveTarget, cmdInDataExchange, // verify: select, key B
		cmdInDataExchange, cmdInDataExchange, cmdInDataExchange, // read 4-6
		cmdInRelease,
	}
	if c := ch.commands(); !bytes.Equal(c, want) {
		t.Errorf("commands % X\nwant     % X", c, want)
	}
}

func TestEncodeLateSecondAnswerIsNotTheNextCommands(t *testing.T) {
	// As TestEncodeLateACKAnsweredOnce, but the second copy's ACK and
	// response come only once the host has sent its next command, the
	// read of block 4, which has the same response code (D5 41): a
	// host that counts on them arriving within a wait takes D5 41 00
	// for the read's answer ("read block 4: 0 bytes").
	old, err := classic.Blocks(driver.Job{CardID: "0000000000000002", Function: driver.Guest})
	if err != nil {
		t.Fatal(err)
	}
	ch, host := newTestChip(t, systemCard(old), func(ch *testChip) {
		ch.lateAuthB, ch.secondAfterNext = true, true
	})
	if _, err := encode(t, host, guestJob); err != nil {
		t.Fatal(err)
	}
	for i, w := range wantBlocks {
		if b := ch.block(4 + i); b != w {
			t.Errorf("block %d = % X, want % X", 4+i, b, w)
		}
	}
}

func TestEncodeTwoCardsWritesNeither(t *testing.T) {
	// A guest card stacked on a blank one: the driver asks for two
	// targets, sees both, and writes neither.
	old, err := classic.Blocks(driver.Job{CardID: "0000000000000002", Function: driver.Guest})
	if err != nil {
		t.Fatal(err)
	}
	other := systemCard(old)
	ch, host := newTestChip(t, classicCard(0x04, 0xA1, 0xB2, 0xC3), func(ch *testChip) { ch.second = other })
	_, err = encode(t, host, guestJob)
	wantKind(t, err, driver.SeveralCards)
	for _, uid := range []string{"04A1B2C3", "04E2F3A4B5C6D7"} {
		if !strings.Contains(err.Error(), uid) {
			t.Errorf("error %q does not name card %s", err, uid)
		}
	}
	if w := ch.writes(); len(w) != 0 {
		t.Errorf("blocks written % X, want none", w)
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, c := range ch.cmds {
		if c[0] == cmdInDataExchange {
			t.Errorf("InDataExchange % X sent with two cards in the field", c)
		}
		if c[0] == cmdInListPassiveTarget && !bytes.Equal(c[1:3], []byte{0x02, 0x00}) {
			t.Errorf("poll InListPassiveTarget % X, want MaxTg 2, BrTy 00", c[1:])
		}
	}
}

func TestParseTargetWithATS(t *testing.T) {
	// Two targets as UM0701-02 7.3.5 lays them out, the first a DESFire
	// with its ATS (length byte first), the second a Classic 1K.
	r := []byte{
		0x01, 0x03, 0x44, 0x20, 0x07, 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x06, 0x75, 0x77, 0x81, 0x02, 0x80,
		0x02, 0x00, 0x04, 0x08, 0x04, 0xDE, 0xAD, 0xBE, 0xEF,
	}
	a, rest, ok := parseTarget(r)
	if !ok || a.tech != techDESFire || !bytes.Equal(a.uid, []byte{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}) {
		t.Fatalf("first target %+v ok=%v", a, ok)
	}
	b, rest, ok := parseTarget(rest)
	if !ok || b.tech != techClassic1K || !bytes.Equal(b.uid, []byte{0xDE, 0xAD, 0xBE, 0xEF}) || len(rest) != 0 {
		t.Fatalf("second target %+v ok=%v rest % X", b, ok, rest)
	}
}

func scan(t *testing.T, host driver.Port) (driver.Scan, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return New(testTiming()).Scan(ctx, host)
}

// Scan reads what a card holds and writes nothing.
func TestScan(t *testing.T) {
	guest, err := classic.Blocks(driver.Job{CardID: "0000000000000002", Function: driver.Guest})
	if err != nil {
		t.Fatal(err)
	}
	staff, err := classic.Blocks(driver.Job{CardID: "00000000000000AA", Function: driver.Staff})
	if err != nil {
		t.Fatal(err)
	}
	foreign := classicCard(1, 2, 3, 4)
	foreign.blocks[7] = [16]byte{1, 1, 1, 1, 1, 1, 0x78, 0x77, 0x88, 0x69, 2, 2, 2, 2, 2, 2}
	ultralight := classicCard(0x04, 1, 2, 3, 4, 5, 6)
	ultralight.atqa, ultralight.sak = [2]byte{0x00, 0x44}, 0x00
	for _, tc := range []struct {
		name string
		card *testCard
		want driver.Scan
	}{
		{"blank", classicCard(0x04, 0xA1, 0xB2, 0xC3), driver.Scan{Number: "04A1B2C3", Technology: "mifare-classic-1k", Holds: driver.Blank}},
		{"guest", systemCard(guest), driver.Scan{Number: "04E2F3A4B5C6D7", Technology: "mifare-classic-1k", Holds: driver.GuestCredential, CardID: "0000000000000002"}},
		{"staff", systemCard(staff), driver.Scan{Number: "04E2F3A4B5C6D7", Technology: "mifare-classic-1k", Holds: driver.StaffCredential, CardID: "00000000000000AA"}},
		{"another system", foreign, driver.Scan{Number: "01020304", Technology: "mifare-classic-1k", Holds: driver.Foreign}},
		{"ultralight", ultralight, driver.Scan{Number: "04010203040506", Technology: "mifare-ultralight", Holds: driver.Foreign}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, host := newTestChip(t, tc.card)
			got, err := scan(t, host)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Scan = %+v, want %+v", got, tc.want)
			}
			if w := ch.writes(); len(w) != 0 {
				t.Errorf("Scan wrote blocks % X", w)
			}
		})
	}
	t.Run("empty field", func(t *testing.T) {
		_, host := newTestChip(t, nil)
		_, err := scan(t, host)
		wantKind(t, err, driver.NoCard)
	})
}
