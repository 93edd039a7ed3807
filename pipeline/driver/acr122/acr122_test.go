package acr122

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/pcscd"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/pcsc"
	"github.com/encoderlab/encoderlab/timescale"
)

func wantKind(t *testing.T, err error, k driver.Kind) {
	t.Helper()
	if got := driver.KindOf(err); got != k {
		t.Fatalf("err = %v (kind %v), want kind %v", err, got, k)
	}
}

// isUpdate matches an update binary APDU (FF D6).
func isUpdate(a []byte) bool { return len(a) > 2 && a[0] == 0xFF && a[1] == 0xD6 }

// isRead matches a read binary APDU (FF B0).
func isRead(a []byte) bool { return len(a) > 2 && a[0] == 0xFF && a[1] == 0xB0 }

func TestEncodeStaffCardIsRefused(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	c := insert(t, d, systemCard("04 E2 F3 A4 B5 C6 D7", staffBlocks))
	_, err := encode(t, open(t, d), guestJob)
	wantKind(t, err, driver.CannotOverwrite)
	if !strings.Contains(err.Error(), "9F2C4D1A00000002") {
		t.Errorf("error %q does not name the staff credential", err)
	}
	if w := c.written(); len(w) != 0 {
		t.Errorf("blocks written %v on a staff card", w)
	}
}

func TestEncodeForeignCard(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	card := classicCard("01 02 03 04")
	card.blocks[7] = foreignTrailer
	c := insert(t, d, card)
	_, err := encode(t, open(t, d), guestJob)
	wantKind(t, err, driver.IncompatibleCard)
	if w := c.written(); len(w) != 0 {
		t.Errorf("blocks written %v on another system's card", w)
	}
	// Both keys refused: the card is left reset, not halted, for the
	// next host.
	c.mu.Lock()
	halted := c.halted
	c.mu.Unlock()
	if halted {
		t.Error("the driver left the card halted")
	}
}

func TestEncodeClassic4K(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	card := classicCard("04 A1 B2 C3")
	card.atr = atrClassic4K
	insert(t, d, card)
	got, err := encode(t, open(t, d), guestJob)
	if err != nil {
		t.Fatal(err)
	}
	if got.Technology != "mifare-classic-4k" {
		t.Errorf("technology %q, want mifare-classic-4k", got.Technology)
	}
}

func TestEncodeOtherTechnologies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		atr  []byte
		tech string
	}{
		{"ultralight", atrUltralight, "mifare-ultralight"},
		{"desfire", atrDESFire, "desfire"},
		{"mifare mini", h("3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 26 00 00 00 00 4D"), "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := daemon(t)
			card := classicCard("04 01 02 03 04 05 06")
			card.atr = tc.atr
			c := insert(t, d, card)
			_, err := encode(t, open(t, d), guestJob)
			wantKind(t, err, driver.IncompatibleCard)
			if !strings.Contains(err.Error(), tc.tech) || !strings.Contains(err.Error(), "04010203040506") {
				t.Errorf("error %q does not name the card and %s", err, tc.tech)
			}
			// The driver reads the UID for the error, and nothing else.
			if s := c.sent(); len(s) != 1 || !bytes.Equal(s[0], h("FF CA 00 00 00")) {
				t.Errorf("APDUs sent % X, want the get UID only", s)
			}
		})
	}
}

func TestEncodeEmptyReader(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	p := open(t, d)
	tm := testTiming()
	tm.CardWait = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	_, err := New(tm).Encode(ctx, p, guestJob)
	took := time.Since(began)
	wantKind(t, err, driver.NoCard)
	if took < tm.CardWait || took > tm.CardWait+10*time.Second {
		t.Errorf("NoCard after %v, want after T_card (%v)", took, tm.CardWait)
	}
	if closed(p) {
		t.Error("the port was closed after NoCard")
	}
}

// A card laid on the reader while the driver waits is encoded.
func TestEncodeCardComesWhileWaiting(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	p := open(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := encodeAsync(ctx, New(testTiming()), p)
	// Laid on the reader once the driver has found it empty (pcscd has
	// listed no card since the daemon started).
	time.Sleep(500 * time.Millisecond)
	c := insert(t, d, classicCard("04 A1 B2 C3"))
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if b := c.block(4); b != wantBlocks[0] {
		t.Errorf("block 4 = % X, want % X", b, wantBlocks[0])
	}
}

func TestEncodeCardLeavesDuringWrite(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	c := insert(t, d, classicCard("04 A1 B2 C3"))
	c.vanishOn = isUpdate
	p := open(t, d)
	_, err := encode(t, p, guestJob)
	wantKind(t, err, driver.Interrupted)
	<-c.done
	if w := c.written(); len(w) != 0 {
		t.Errorf("blocks written %v", w)
	}
	if b := c.block(4); b != ([16]byte{}) {
		t.Errorf("block 4 = % X, want it unchanged", b)
	}
	// The context stayed in step: the port is open, and serves the next
	// encode, of the next card.
	if closed(p) {
		t.Fatal("the port was closed after Interrupted")
	}
	next := insert(t, d, classicCard("04 A1 B2 C4"))
	got, err := encode(t, p, guestJob)
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != "04A1B2C4" || next.block(4) != wantBlocks[0] {
		t.Errorf("the next encode: %+v, block 4 % X", got, next.block(4))
	}
}

// A card that leaves before the driver did anything to it (at the get
// UID, while pcscd still lists it) is no card yet: the driver waits on,
// and encodes the next card laid on the reader, or ends with NoCard.
func TestEncodeCardGoneBeforeWork(t *testing.T) {
	t.Parallel()
	isGetUID := func(a []byte) bool { return bytes.Equal(a, h("FF CA 00 00 00")) }
	t.Run("another card comes", func(t *testing.T) {
		t.Parallel()
		d := daemon(t)
		first := classicCard("04 A1 B2 C3")
		first.vanishOn = isGetUID
		insert(t, d, first)
		p := open(t, d)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done := encodeAsync(ctx, New(testTiming()), p)
		<-first.done
		next := insert(t, d, classicCard("04 A1 B2 C4"))
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.card.Number != "04A1B2C4" || next.block(4) != wantBlocks[0] {
			t.Errorf("Encode = %+v, block 4 of the next card % X", r.card, next.block(4))
		}
	})
	t.Run("none comes", func(t *testing.T) {
		t.Parallel()
		d := daemon(t)
		first := classicCard("04 A1 B2 C3")
		first.vanishOn = isGetUID
		insert(t, d, first)
		p := open(t, d)
		tm := testTiming()
		tm.CardWait = 3 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := New(tm).Encode(ctx, p, guestJob)
		wantKind(t, err, driver.NoCard)
		if closed(p) {
			t.Error("the port was closed")
		}
	})
}

// A card lifted off after pcscd saw it and before its next poll (an
// operator swapping cards) is still listed when the driver connects;
// pcscd powers it on for the connection, finds no card, and refuses the
// connect (SCARD_E_PROTO_MISMATCH: no ATR, no protocol). That is no card
// yet, not a reader error: the driver waits on, and ends NoCard (or
// takes the next card laid on the reader).
func TestEncodeCardGoneAtConnect(t *testing.T) {
	t.Parallel()
	for _, another := range []bool{false, true} {
		name := map[bool]string{false: "none comes", true: "another card comes"}[another]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := daemon(t)
			first := classicCard("04 A1 B2 C3")
			first.vanishOnPower = true
			insert(t, d, first)
			p := open(t, d)
			listed(t, p, d.Reader())
			tm := testTiming()
			tm.CardWait = 3 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := encodeAsync(ctx, New(tm), p)
			<-first.done // pcscd powered it for the driver's connect
			var next *testCard
			if another {
				// Only once pcscd has seen the reader empty: a card laid
				// on sooner could answer the connect's power-on itself.
				listedAs(t, open(t, d), d.Reader(), false)
				next = insert(t, d, classicCard("04 A1 B2 C4"))
			}
			r := <-done
			if !another {
				wantKind(t, r.err, driver.NoCard)
				return
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.card.Number != "04A1B2C4" || next.block(4) != wantBlocks[0] {
				t.Errorf("Encode = %+v, block 4 of the next card % X", r.card, next.block(4))
			}
		})
	}
}

// A card that stays on the reader but whose ATR pcscd cannot make sense
// of (or that it cannot power) is no card the reader can encode
// (acr122.md, Outcomes): IncompatibleCard once the driver has waited
// for pcscd's next look at it, nothing sent to it.
func TestEncodeCardPcscdCannotPower(t *testing.T) {
	t.Parallel()
	for _, atr := range [][]byte{{0x00}, {0x3B}, {0xFF, 0xFF}} {
		t.Run(fmt.Sprintf("ATR % X", atr), func(t *testing.T) {
			t.Parallel()
			d := daemon(t)
			c := classicCard("04 A1 B2 C3")
			c.atr = atr
			insert(t, d, c)
			tm := testTiming()
			tm.CardWait = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := New(tm).Encode(ctx, open(t, d), guestJob)
			wantKind(t, err, driver.IncompatibleCard)
			if sent := c.sent(); len(sent) != 0 {
				t.Errorf("APDUs sent to a card pcscd could not connect to: % X", sent)
			}
		})
	}
}

// result is what an Encode returned.
type result struct {
	card driver.Card
	err  error
}

// encodeAsync runs d's Encode of guestJob on p, and sends what it
// returned.
func encodeAsync(ctx context.Context, d *Driver, p driver.Port) <-chan result {
	done := make(chan result, 1)
	go func() {
		c, err := d.Encode(ctx, p, guestJob)
		done <- result{c, err}
	}()
	return done
}

// listed waits until pcscd lists a card in reader on p.
func listed(t *testing.T, p driver.Port, reader string) {
	t.Helper()
	listedAs(t, p, reader, true)
}

// listedAs waits until pcscd lists reader on p with a card (present) or
// without one.
func listedAs(t *testing.T, p driver.Port, reader string, present bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := pcsc.Establish(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release(ctx)
	for {
		rs, err := pc.Readers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Name == reader && r.Present() == present {
				return
			}
		}
		if _, err := pc.WaitChange(ctx, 5*time.Second); err != nil {
			t.Fatalf("waiting for pcscd to list reader %s with a card %v: %v", reader, present, err)
		}
	}
}

// arrival records when an APDU the test waits for reached the card.
type arrival struct {
	once sync.Once
	at   chan time.Time
}

func newArrival() *arrival { return &arrival{at: make(chan time.Time, 1)} }

func (a *arrival) see(apdu []byte) {
	if isUpdate(apdu) {
		a.once.Do(func() { a.at <- time.Now() })
	}
}

func TestEncodeReaderStopsAnswering(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	c := insert(t, d, classicCard("04 A1 B2 C3"))
	a := newArrival()
	c.onAPDU, c.withholdOn = a.see, isUpdate
	p := open(t, d)
	tm := testTiming()
	tm.Answer = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := New(tm).Encode(ctx, p, guestJob)
	ended := time.Now()
	wantKind(t, err, driver.NotAnswering)
	if errors.Is(err, context.DeadlineExceeded) {
		// driver.Driver: only ctx's end wraps ctx.Err(); the pipeline
		// would take this for the attempt's deadline.
		t.Errorf("the reader's silence reads as a context deadline: %v", err)
	}
	withheld := <-a.at
	if took := ended.Sub(withheld); took < tm.Answer-100*time.Millisecond || took > tm.Answer+10*time.Second {
		t.Errorf("NotAnswering %v after the update reached the reader, want about T_answer (%v)", took, tm.Answer)
	}
	// The transmit was cut off: the stream is out of step, so the port
	// is closed for the pipeline to open again.
	if !closed(p) {
		t.Error("the port is still open after an exchange was cut off")
	}
}

func TestEncodePcscdStops(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	c := insert(t, d, classicCard("04 A1 B2 C3"))
	a := newArrival()
	c.onAPDU, c.withholdOn = a.see, isUpdate
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-a.at:
			d.Close()
		case <-stop:
		}
	}()
	p := open(t, d)
	_, err := encode(t, p, guestJob)
	wantKind(t, err, driver.Hangup)
	if !closed(p) {
		t.Error("the port is still open after pcscd hung up")
	}
}

func TestEncodeContextEndsWhileWaiting(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	p := open(t, d)
	tm := testTiming()
	tm.CardWait = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	began := time.Now()
	_, err := New(tm).Encode(ctx, p, guestJob)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want one wrapping context.Canceled", err)
	}
	if driver.KindOf(err) != 0 {
		t.Errorf("err has kind %v; a cancellation is the caller's, not the encoder's", driver.KindOf(err))
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("the cancelled encode took %v", took)
	}
	// The wait ended in step: the port stays open and serves the next
	// encode.
	if closed(p) {
		t.Fatal("the port was closed after a cancelled wait")
	}
	insert(t, d, classicCard("04 A1 B2 C3"))
	if _, err := encode(t, p, guestJob); err != nil {
		t.Fatalf("the next encode on the port: %v", err)
	}
}

func TestEncodeContextEndsMidCommand(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	c := insert(t, d, classicCard("04 A1 B2 C3"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.withholdOn = isUpdate
	c.onAPDU = func(a []byte) {
		if isUpdate(a) {
			cancel()
		}
	}
	p := open(t, d)
	_, err := New(testTiming()).Encode(ctx, p, guestJob)
	if !errors.Is(err, context.Canceled) || driver.KindOf(err) != 0 {
		t.Fatalf("err = %v (kind %v), want one wrapping context.Canceled, of no kind", err, driver.KindOf(err))
	}
	if !closed(p) {
		t.Error("the port is still open after the transmit was cut off")
	}
}

// Two encodes and a scan on one socket: pcscd takes a new context after
// the last one was released.
func TestEncodeTwiceOnOneSocket(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	c := insert(t, d, classicCard("04 A1 B2 C3"))
	p := open(t, d)
	if _, err := encode(t, p, guestJob); err != nil {
		t.Fatal(err)
	}
	n := len(c.exchange())
	again := guestJob
	again.CardID, again.Label = "9F2C4D1A00000004", "Room 102"
	got, err := encode(t, p, again)
	if err != nil {
		t.Fatalf("the second encode on the socket: %v", err)
	}
	if got.CardID != again.CardID {
		t.Errorf("second encode: %+v", got)
	}
	// The second found a card of the system: no transport key.
	for _, l := range c.exchange()[n:] {
		if strings.Contains(l, "FF FF FF FF FF FF") {
			t.Errorf("the second encode sent %s", l)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(testTiming()).Scan(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Holds != driver.GuestCredential || s.CardID != again.CardID {
		t.Errorf("Scan after two encodes = %+v, want guest %s", s, again.CardID)
	}
	if closed(p) {
		t.Error("the port was closed")
	}
}

// A reader that answers what the driver cannot use is Device.
func TestEncodeDeviceErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		card func() *testCard
	}{
		{"read refused after authentication", func() *testCard {
			// The system's keys with access bits the card does not
			// grant the read under: 63 00 on the read.
			c := systemCard("04 A1 B2 C3", oldGuestBlocks)
			copy(c.blocks[7][6:9], []byte{0x00, 0x00, 0x00})
			return c
		}},
		{"update refused after authentication", func() *testCard {
			c := classicCard("04 A1 B2 C3")
			c.override = func(a []byte) ([]byte, bool) {
				if isUpdate(a) {
					return sw6300, true
				}
				return nil, false
			}
			return c
		}},
		{"read back differs", func() *testCard {
			c := systemCard("04 A1 B2 C3", oldGuestBlocks)
			c.ignoreWrites = true
			return c
		}},
		{"load key answers another status", func() *testCard {
			c := classicCard("04 A1 B2 C3")
			c.override = func(a []byte) ([]byte, bool) {
				if a[1] == 0x82 {
					return []byte{0x6A, 0x81}, true
				}
				return nil, false
			}
			return c
		}},
		{"UID malformed", func() *testCard {
			c := classicCard("04 A1 B2 C3")
			c.override = func(a []byte) ([]byte, bool) {
				if a[1] == 0xCA {
					return []byte{0x04, 0xA1, 0xB2, 0x90, 0x00}, true
				}
				return nil, false
			}
			return c
		}},
		{"short block", func() *testCard {
			c := systemCard("04 A1 B2 C3", oldGuestBlocks)
			c.override = func(a []byte) ([]byte, bool) {
				if isRead(a) {
					return []byte{0x45, 0x4C, 0x90, 0x00}, true
				}
				return nil, false
			}
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := daemon(t)
			insert(t, d, tc.card())
			p := open(t, d)
			_, err := encode(t, p, guestJob)
			wantKind(t, err, driver.Device)
			if closed(p) {
				t.Error("the port was closed after an answer over a working stream")
			}
		})
	}
}

func TestEncodeInvalidJob(t *testing.T) {
	host, sent := fakePcscd(t, false)
	for _, job := range []driver.Job{
		{CardID: "9f2c4d1a00000001", Function: driver.Guest},
		{CardID: "9F2C", Function: driver.Guest},
		{CardID: guestJob.CardID, Function: "owner"},
		{CardID: guestJob.CardID, Function: driver.Guest, EndsAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		_, err := encode(t, host, job)
		if !errors.Is(err, ErrInvalidJob) || !strings.HasPrefix(err.Error(), "acr122: invalid job: ") {
			t.Errorf("Encode(%+v): err = %v, want \"acr122: invalid job: ...\" wrapping ErrInvalidJob", job, err)
		}
	}
	if c := sent(); len(c) != 0 {
		t.Errorf("requests sent to pcscd for invalid jobs: % X", c)
	}
}

func TestEncodeRefusesBadSettings(t *testing.T) {
	host, sent := fakePcscd(t, false)
	ctx := context.Background()
	for name, d := range map[string]*Driver{
		"no answer timeout":  New(Timing{CardWait: time.Second}),
		"negative card wait": New(Timing{Answer: time.Second, CardWait: -1}),
		"transport key as B": {Timing: testTiming(), KeyA: [6]byte(h("45 4C 41 42 4B 41")), KeyB: [6]byte(h("FF FF FF FF FF FF"))},
	} {
		if _, err := d.Encode(ctx, host, guestJob); err == nil || driver.KindOf(err) != 0 {
			t.Errorf("%s: Encode err = %v, want a refusal of no kind", name, err)
		}
		if _, err := d.Scan(ctx, host); err == nil || driver.KindOf(err) != 0 {
			t.Errorf("%s: Scan err = %v, want a refusal of no kind", name, err)
		}
	}
	if c := sent(); len(c) != 0 {
		t.Errorf("requests sent to pcscd: % X", c)
	}
}

// fakePcscd plays pcscd on one end of net.Pipe, written from pcsc-lite
// 1.9.9's winscard_msg.h: a request is a header {uint32 size, uint32
// command} and a struct of size bytes; the reply is the bare struct,
// little-endian. It knows CMD_VERSION (0x11: version_struct, 12 bytes),
// SCARD_ESTABLISH_CONTEXT (0x01: establish_struct, 12),
// CMD_GET_READERS_STATE (0x12: 16 READER_STATE records of 184 bytes,
// here all empty: no reader) and SCARD_RELEASE_CONTEXT (0x02:
// release_struct, 8). silent reads every request and answers none.
func fakePcscd(t *testing.T, silent bool) (driver.Port, func() []uint32) {
	t.Helper()
	host, far := net.Pipe()
	var mu sync.Mutex
	var cmds []uint32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var hdr [8]byte
			if _, err := io.ReadFull(far, hdr[:]); err != nil {
				return
			}
			size, cmd := binary.LittleEndian.Uint32(hdr[0:]), binary.LittleEndian.Uint32(hdr[4:])
			body := make([]byte, size)
			if _, err := io.ReadFull(far, body); err != nil {
				return
			}
			mu.Lock()
			cmds = append(cmds, cmd)
			mu.Unlock()
			if silent {
				continue
			}
			var reply []byte
			switch cmd {
			case 0x11:
				reply = binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 4), 4)
				reply = binary.LittleEndian.AppendUint32(reply, 0)
			case 0x01:
				reply = slices.Concat(body[0:4], []byte{0x78, 0x56, 0x34, 0x12}, make([]byte, 4))
			case 0x12:
				reply = make([]byte, 16*184)
			case 0x02:
				reply = slices.Concat(body[0:4], make([]byte, 4))
			default:
				t.Errorf("fake pcscd: command 0x%02X", cmd)
				return
			}
			if _, err := far.Write(reply); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		host.Close()
		far.Close()
		<-done
	})
	return host, func() []uint32 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(cmds)
	}
}

func TestEncodeNoReader(t *testing.T) {
	p, _ := fakePcscd(t, false)
	_, err := encode(t, p, guestJob)
	wantKind(t, err, driver.NotAnswering)
	if !strings.Contains(err.Error(), "no reader") {
		t.Errorf("error %q does not say no reader is listed", err)
	}
	if closed(p) {
		t.Error("the port was closed: the context was in step")
	}
}

func TestEncodePcscdSilent(t *testing.T) {
	p, _ := fakePcscd(t, true)
	tm := testTiming()
	tm.Answer = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	_, err := New(tm).Encode(ctx, p, guestJob)
	wantKind(t, err, driver.NotAnswering)
	if took := time.Since(began); took < tm.Answer || took > tm.Answer+10*time.Second {
		t.Errorf("NotAnswering after %v, want after T_answer (%v)", took, tm.Answer)
	}
	if !closed(p) {
		t.Error("the port is still open after pcscd left a request unanswered")
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	d := New(testTiming())

	_, err := d.Open(filepath.Join(dir, "pcscd.comm"))
	if err == nil || !strings.Contains(err.Error(), "is the reader's pcscd running") {
		t.Errorf("Open of no socket: %v, want it to ask whether pcscd runs", err)
	}

	stale := filepath.Join(dir, "stale.comm")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := d.Open(stale); err == nil || !strings.Contains(err.Error(), "nothing listens") {
		t.Errorf("Open of a socket nobody listens on: %v", err)
	}

	file := filepath.Join(dir, "ttyUSB0")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Open of a regular file: %v, want it to say it is not a socket", err)
	}

	live := filepath.Join(dir, "live.comm")
	l, err = net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := d.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if pp, ok := p.(*port); !ok || pp.UnixConn == nil || pp.reader != "" {
		t.Errorf("Open returned %#v, want the socket and no reader named", p)
	}

	// A socket whose own name has a '#' is that socket, not a reader.
	hashed := filepath.Join(dir, "pc#1.comm")
	l2, err := net.Listen("unix", hashed)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	p2, err := d.Open(hashed)
	if err != nil {
		t.Fatalf("Open of a socket named with a '#': %v", err)
	}
	defer p2.Close()
	if r := readerOf(p2); r != "" {
		t.Errorf("Open(%q) keeps to reader %q; want the whole path taken as the socket", hashed, r)
	}
	p3, err := d.Open(live + "#ACS ACR122U PICC Interface 01")
	if err != nil {
		t.Fatal(err)
	}
	defer p3.Close()
	if r := readerOf(p3); r != "ACS ACR122U PICC Interface 01" {
		t.Errorf("Open(SOCKET#READER) keeps to reader %q; want the name after '#'", r)
	}
}

// A port that names a reader keeps the encoder to it: pcscd here lists
// two (vpcd's two slots, the card in the first). Naming the empty one
// is an empty reader, whatever lies on the other; naming the start of
// the card's reader's name encodes it; a name pcscd does not list says
// which it does.
func TestPortNamesItsReader(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	c := insert(t, d, classicCard("04 A1 B2 C3"))
	tm := testTiming()
	tm.CardWait = time.Second
	run := func(port string) (driver.Card, error) {
		t.Helper()
		p, err := New(tm).Open(port)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return New(tm).Encode(ctx, p, guestJob)
	}
	other := pcscd.DefaultReaderName + " 00 01"
	if other == d.Reader() {
		t.Fatalf("the card's reader and the empty slot are both %q", other)
	}

	_, err := run(d.Socket() + "#" + other)
	wantKind(t, err, driver.NoCard)
	if err != nil && !strings.Contains(err.Error(), other) {
		t.Errorf("NoCard error %q does not name the reader it waited on (%s)", err, other)
	}
	if w := c.written(); len(w) != 0 {
		t.Fatalf("blocks %v written on the card in %s, through a port naming %s", w, d.Reader(), other)
	}

	_, err = run(d.Socket() + "#ACS ACR122U")
	wantKind(t, err, driver.NotAnswering)
	if err != nil && (!strings.Contains(err.Error(), `"ACS ACR122U"`) || !strings.Contains(err.Error(), d.Reader())) {
		t.Errorf("error %q should name the reader asked for and those pcscd lists", err)
	}

	got, err := run(d.Socket() + "#" + strings.TrimSuffix(d.Reader(), " 00"))
	if err != nil {
		t.Fatalf("encode through a port naming the start of %q: %v", d.Reader(), err)
	}
	if got.Number != "04A1B2C3" {
		t.Errorf("card number %q; want the card's UID 04A1B2C3", got.Number)
	}
	if w := c.written(); len(w) == 0 {
		t.Error("nothing written on the card in the named reader")
	}
}

func TestTiming(t *testing.T) {
	if got, want := DefaultTiming(), (Timing{Answer: 10 * time.Second, CardWait: 20 * time.Second}); got != want {
		t.Errorf("DefaultTiming = %+v, want %+v", got, want)
	}
	if got, want := DefaultTiming().Scaled(0.2), (Timing{Answer: 2 * time.Second, CardWait: 4 * time.Second}); got != want {
		t.Errorf("Scaled(0.2) = %+v, want %+v", got, want)
	}
	n, ok := driver.Registered()["acr122"]
	if !ok {
		t.Fatal(`no driver registered as "acr122"`)
	}
	dr, ok := n(timescale.Scale(0.5)).(*Driver)
	if !ok || dr.Timing != DefaultTiming().Scaled(0.5) || dr.KeyB != [6]byte(h("45 4C 41 42 4B 42")) {
		t.Errorf("the registered constructor built %+v", dr)
	}
}

func scan(t *testing.T, p driver.Port) (driver.Scan, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return New(testTiming()).Scan(ctx, p)
}

// Scan reads what a card holds and writes nothing.
func TestScan(t *testing.T) {
	t.Parallel()
	foreign := func() *testCard {
		c := classicCard("01 02 03 04")
		c.blocks[7] = foreignTrailer
		return c
	}
	ultralight := func() *testCard {
		c := classicCard("04 01 02 03 04 05 06")
		c.atr = atrUltralight
		return c
	}
	cleared := func() *testCard {
		// The system's keys, no credential: written by the system and
		// cleared.
		return systemCard("04 E2 F3 A4 B5 C6 D7", [3][16]byte{})
	}
	for _, tc := range []struct {
		name string
		card func() *testCard
		want driver.Scan
	}{
		{"blank", func() *testCard { return classicCard("04 A1 B2 C3") }, driver.Scan{Number: "04A1B2C3", Technology: "mifare-classic-1k", Holds: driver.Blank}},
		{"guest", func() *testCard { return systemCard("04 E2 F3 A4 B5 C6 D7", wantBlocks) }, driver.Scan{Number: "04E2F3A4B5C6D7", Technology: "mifare-classic-1k", Holds: driver.GuestCredential, CardID: "9F2C4D1A00000001"}},
		{"staff", func() *testCard { return systemCard("04 E2 F3 A4 B5 C6 D7", staffBlocks) }, driver.Scan{Number: "04E2F3A4B5C6D7", Technology: "mifare-classic-1k", Holds: driver.StaffCredential, CardID: "9F2C4D1A00000002"}},
		{"cleared", cleared, driver.Scan{Number: "04E2F3A4B5C6D7", Technology: "mifare-classic-1k", Holds: driver.Blank}},
		{"another system", foreign, driver.Scan{Number: "01020304", Technology: "mifare-classic-1k", Holds: driver.Foreign}},
		{"ultralight", ultralight, driver.Scan{Number: "04010203040506", Technology: "mifare-ultralight", Holds: driver.Foreign}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := daemon(t)
			c := insert(t, d, tc.card())
			p := open(t, d)
			got, err := scan(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Scan = %+v, want %+v", got, tc.want)
			}
			if w := c.written(); len(w) != 0 {
				t.Errorf("Scan wrote blocks %v", w)
			}
			if closed(p) {
				t.Error("the port was closed after a scan")
			}
		})
	}
	t.Run("empty reader", func(t *testing.T) {
		t.Parallel()
		d := daemon(t)
		p := open(t, d)
		tm := testTiming()
		tm.CardWait = time.Second
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := New(tm).Scan(ctx, p)
		wantKind(t, err, driver.NoCard)
	})
	t.Run("card leaves mid-read", func(t *testing.T) {
		t.Parallel()
		d := daemon(t)
		c := insert(t, d, systemCard("04 E2 F3 A4 B5 C6 D7", wantBlocks))
		c.vanishOn = isRead
		_, err := scan(t, open(t, d))
		wantKind(t, err, driver.Interrupted)
	})
}
