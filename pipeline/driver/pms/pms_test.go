package pms_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/driver/pms"
	"github.com/encoderlab/encoderlab/timescale"
)

// Link bytes, written out from docs/protocols/pms.md.
var (
	ENQ = []byte{0x05}
	ACK = []byte{0x06}
	NAK = []byte{0x15}
)

// cnExample is the encode command of the protocol document's example,
// byte for byte; 0x60 is the XOR of "CN" through ETX.
var cnExample = []byte("\x02CN\xB301\xB39F2C4D1A00000001\xB3G\xB3202611251400\xB3202611281100\xB3Room 101\x03\x60")

// ccFrame and rcFrame are the cancel and read commands for address 01.
var (
	ccFrame = []byte("\x02CC\xB301\x03\xB1")
	rcFrame = []byte("\x02RC\xB301\x03\xA0")
)

var exampleJob = driver.Job{
	CardID:   "9F2C4D1A00000001",
	Function: driver.Guest,
	StartsAt: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC),
	EndsAt:   time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC),
	Label:    "Room 101",
}

// testTiming keeps retransmission tests short while leaving a scripted
// peer far more time to answer than it needs, even on a loaded machine.
func testTiming() pms.Timing {
	return pms.Timing{Ack: 250 * time.Millisecond, Answer: 3 * time.Second, Busy: 20 * time.Millisecond, Retries: 3}
}

// frame builds a device frame from fields, with its LRC computed here so
// that the device side of the tests does not share the driver's encoder.
func frame(fields ...string) []byte {
	b := []byte{0x02}
	b = append(b, strings.Join(fields, "\xB3")...)
	b = append(b, 0x03)
	var x byte
	for _, c := range b[1:] {
		x ^= c
	}
	return append(b, x)
}

// garbled is frame with its LRC damaged.
func garbled(fields ...string) []byte {
	b := frame(fields...)
	b[len(b)-1] ^= 0xFF
	return b
}

// okAnswer is the device's OK to the example CN; ccAnswer its answer to CC.
var (
	okAnswer = frame("OK", "01", "04A1B2C3", "mifare-classic-1k", "9F2C4D1A00000001")
	ccAnswer = frame("CC", "01")
)

// peer is the device end of the line, driven by a test script. Its
// methods fail the test and end the script on the first divergence.
type peer struct {
	t    *testing.T
	conn net.Conn
	// cancel cancels the context the driver runs under.
	cancel context.CancelFunc
}

// peerAbort unwinds a script after a reported failure.
type peerAbort struct{}

// peerWait bounds every peer read and write; it only catches a hung driver.
const peerWait = 10 * time.Second

// expect reads len(want) bytes and compares them with want.
func (p *peer) expect(what string, want []byte) {
	got := make([]byte, len(want))
	_ = p.conn.SetReadDeadline(time.Now().Add(peerWait))
	n, err := io.ReadFull(p.conn, got)
	for i := range n {
		if got[i] != want[i] {
			p.t.Errorf("device: %s: byte %d: got 0x%02x, want 0x%02x\n got % X\nwant % X", what, i, got[i], want[i], got[:n], want)
			panic(peerAbort{})
		}
	}
	if err != nil {
		p.t.Errorf("device: %s: after % X: %v", what, got[:n], err)
		panic(peerAbort{})
	}
}

// send writes b in one piece.
func (p *peer) send(what string, b []byte) {
	_ = p.conn.SetWriteDeadline(time.Now().Add(peerWait))
	if _, err := p.conn.Write(b); err != nil {
		p.t.Errorf("device: send %s: %v", what, err)
		panic(peerAbort{})
	}
}

// resync plays the device through the host's resynchronisation on a
// line it cannot vouch for: CC, ACKed, then the CC answer every CC gets.
func (p *peer) resync() {
	p.expect("resync CC", ccFrame)
	p.send("ACK to CC", ACK)
	p.answer(ccAnswer)
}

// handshake plays the device through ENQ, the resynchronisation that
// starts every exchange on a fresh line, and the command, ACKing each.
func (p *peer) handshake(cmd []byte) {
	p.expect("ENQ", ENQ)
	p.send("ACK to ENQ", ACK)
	p.resync()
	p.command(cmd)
}

// known plays the device through an exchange on a line the host left
// idle: ENQ and the command, no resynchronisation.
func (p *peer) known(cmd []byte) {
	p.expect("ENQ", ENQ)
	p.send("ACK to ENQ", ACK)
	p.command(cmd)
}

// command expects cmd and ACKs it.
func (p *peer) command(cmd []byte) {
	p.expect("command", cmd)
	p.send("ACK to command", ACK)
}

// answer sends an answer frame and expects the host's ACK.
func (p *peer) answer(b []byte) {
	p.send("answer", b)
	p.expect("ACK to answer", ACK)
}

// run connects op to a peer playing script over net.Pipe and returns op's
// error. After op returns, the host end is closed; bytes the host sent
// that the script did not read fail the test.
func run(t *testing.T, ctx context.Context, op func(context.Context, driver.Port) error, script func(*peer)) error {
	t.Helper()
	host, dev := net.Pipe()
	return runOn(t, ctx, host, dev, op, script)
}

// runOn is run over a given pair of connected ends.
func runOn(t *testing.T, ctx context.Context, host, dev net.Conn, op func(context.Context, driver.Port) error, script func(*peer)) error {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer dev.Close()
		p := &peer{t: t, conn: dev, cancel: cancel}
		func() {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(peerAbort); !ok {
						panic(r)
					}
					dev.Close() // unblock the driver
				}
			}()
			script(p)
		}()
		// Whatever arrives now was not in the script.
		_ = dev.SetReadDeadline(time.Now().Add(peerWait))
		extra, err := io.ReadAll(dev)
		if len(extra) > 0 {
			t.Errorf("device: unexpected bytes after the script: % X", extra)
		}
		if err != nil && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("device: reading after the script: %v", err)
		}
	}()

	result := make(chan error, 1)
	go func() { result <- op(ctx, host) }()
	var err error
	select {
	case err = <-result:
	case <-time.After(2 * peerWait):
		t.Fatal("driver did not return: hung")
	}
	host.Close()
	<-done
	return err
}

// encode runs Encode of job under script and returns its outcome.
func encode(t *testing.T, ctx context.Context, d *pms.Driver, job driver.Job, script func(*peer)) (driver.Card, error) {
	t.Helper()
	var card driver.Card
	err := run(t, ctx, func(ctx context.Context, p driver.Port) error {
		var err error
		card, err = d.Encode(ctx, p, job)
		return err
	}, script)
	return card, err
}

// wantKind fails unless err is a *driver.Error of kind k whose Detail
// contains detail.
func wantKind(t *testing.T, err error, k driver.Kind, detail string) *driver.Error {
	t.Helper()
	var de *driver.Error
	if !errors.As(err, &de) {
		t.Fatalf("error = %v, want a *driver.Error of kind %q", err, k)
	}
	if de.Kind != k {
		t.Fatalf("kind = %q (%v), want %q", de.Kind, err, k)
	}
	if !strings.Contains(de.Detail, detail) {
		t.Fatalf("detail = %q, want it to contain %q", de.Detail, detail)
	}
	return de
}

func TestEncodeExampleWireBytes(t *testing.T) {
	card, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.handshake(cnExample)
		p.answer(okAnswer)
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	want := driver.Card{Number: "04A1B2C3", Technology: "mifare-classic-1k", CardID: "9F2C4D1A00000001"}
	if card != want {
		t.Errorf("card = %+v, want %+v", card, want)
	}
}

func TestEncodeFieldRules(t *testing.T) {
	// A staff card without validity bounds; the label has a control
	// character, non-ASCII letters and more than 32 characters.
	job := driver.Job{
		CardID:   "00000000000000FF",
		Function: driver.Staff,
		StartsAt: time.Date(2027, 1, 2, 3, 4, 59, 0, time.FixedZone("CET", 3600)), // 02:04 UTC
		Label:    "Zo\u00eb\tSt\u00e5hl, housekeeping, 2nd floor east wing",
	}
	want := []byte("\x02CN\xB301\xB300000000000000FF\xB3S\xB3202701020204\xB3\xB3Zo??St?hl, housekeeping, 2nd flo\x03")
	var x byte
	for _, c := range want[1:] {
		x ^= c
	}
	want = append(want, x)
	_, err := encode(t, t.Context(), pms.New(testTiming()), job, func(p *peer) {
		p.handshake(want)
		p.answer(frame("OK", "01", "04A1B2C3D4E5F6", "desfire", "00000000000000FF"))
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
}

func TestEncodeOutcomes(t *testing.T) {
	for _, tc := range []struct {
		answer []byte
		kind   driver.Kind
		detail string
	}{
		{frame("NC", "01"), driver.NoCard, "answer NC"},
		{frame("TO", "01"), driver.NoCard, "answer TO"},
		{frame("CF", "01", "mifare-ultralight"), driver.IncompatibleCard, `answer CF "mifare-ultralight"`},
		{frame("OS", "01"), driver.IncompatibleCard, "answer OS"},
		{frame("VU", "01", "1111222233334444"), driver.CannotOverwrite, `answer VU "1111222233334444"`},
		{frame("RM", "01"), driver.Interrupted, "answer RM"},
		{frame("ER", "01", "antenna fault"), driver.Device, `answer ER "antenna fault"`},
		{frame("SE", "01", "field 3"), driver.Device, `answer SE "field 3"`},
		{frame("ZZ", "01"), driver.Device, "answer ZZ"},
		{frame("CC", "01"), driver.Device, "answer CC"},
		{frame("OK", "02", "04A1B2C3", "desfire", "9F2C4D1A00000001"), driver.Device, `address "02"`},
		{frame("OK"), driver.Device, "no address"},
		{frame("OK", "01", "04A1B2C3", "desfire"), driver.Device, "malformed"},
		{frame("OK", "01", "04a1b2c3", "desfire", "9F2C4D1A00000001"), driver.Device, "card number"},
		{frame("OK", "01", "04A1B2C3", "desfire", "1111222233334444"), driver.Device, `card id "1111222233334444"`},
	} {
		t.Run(string(tc.answer[1:3]), func(t *testing.T) {
			_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
				p.handshake(cnExample)
				p.answer(tc.answer)
			})
			wantKind(t, err, tc.kind, tc.detail)
		})
	}
}

func TestEncodeENQRetry(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.expect("first ENQ", ENQ) // left unanswered
		p.handshake(cnExample)
		p.answer(okAnswer)
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
}

func TestEncodeNoACKToENQ(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		for range 4 {
			p.expect("ENQ", ENQ)
		}
	})
	wantKind(t, err, driver.NotAnswering, "no ACK to ENQ after 4 sends")
}

func TestEncodeNAKThenRetransmit(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.expect("ENQ", ENQ)
		p.send("ACK", ACK)
		p.resync()
		p.expect("CN", cnExample)
		p.send("NAK", NAK)
		p.expect("CN again", cnExample)
		p.send("ACK", ACK)
		p.answer(okAnswer)
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
}

func TestEncodeNAKEverySend(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.expect("ENQ", ENQ)
		p.send("ACK", ACK)
		p.resync()
		for range 4 {
			p.expect("CN", cnExample)
			p.send("NAK", NAK)
		}
	})
	wantKind(t, err, driver.Link, "NAK to CN on every send (4 sends)")
}

func TestEncodeNAKAndSilence(t *testing.T) {
	// The device hears the command garbled, then not at all: the line,
	// not the device, is at fault.
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.expect("ENQ", ENQ)
		p.send("ACK", ACK)
		p.resync()
		p.expect("CN", cnExample)
		p.send("NAK", NAK)
		for range 3 {
			p.expect("CN", cnExample)
		}
	})
	wantKind(t, err, driver.Link, "no ACK to CN after 4 sends (1 NAK)")
}

func TestEncodeNoACKToCommand(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.expect("ENQ", ENQ)
		p.send("ACK", ACK)
		p.resync()
		for range 4 {
			p.expect("CN", cnExample)
		}
	})
	wantKind(t, err, driver.NotAnswering, "no ACK to CN after 4 sends")
}

func TestEncodeGarbledAnswerThenGood(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.handshake(cnExample)
		p.send("garbled answer", garbled("OK", "01", "04A1B2C3", "mifare-classic-1k", "9F2C4D1A00000001"))
		p.expect("NAK", NAK)
		p.answer(okAnswer)
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
}

func TestEncodeGarbledAnswerEveryTime(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.handshake(cnExample)
		for range 4 {
			p.send("garbled answer", garbled("OK", "01", "04A1B2C3", "mifare-classic-1k", "9F2C4D1A00000001"))
			p.expect("NAK", NAK)
		}
	})
	de := wantKind(t, err, driver.Link, "bad answer frame 4 times")
	var fe *pms.FrameError
	if !errors.As(de, &fe) || !strings.Contains(fe.Reason, "LRC") {
		t.Errorf("error %v: want a *pms.FrameError about the LRC in its chain", err)
	}
}

// socketPair returns two connected ends of a Unix stream socket: unlike
// net.Pipe, it buffers what one end writes before the other reads.
func socketPair(t *testing.T) (host, dev net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatalf("socketpair: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns[0], conns[1]
}

func TestEncodeDrainsStaleInput(t *testing.T) {
	host, dev := socketPair(t)
	// Left on the line by an earlier exchange: a late ACK and a late
	// answer. Taken as current, they would ACK the ENQ and answer CN.
	stale := append(append([]byte{}, ACK...), frame("OK", "01", "DEADBEEF", "desfire", "9F2C4D1A00000001")...)
	if _, err := dev.Write(stale); err != nil {
		t.Fatalf("write stale input: %v", err)
	}
	var card driver.Card
	err := runOn(t, t.Context(), host, dev, func(ctx context.Context, p driver.Port) error {
		var err error
		card, err = pms.New(testTiming()).Encode(ctx, p, exampleJob)
		return err
	}, func(p *peer) {
		p.handshake(cnExample)
		p.answer(okAnswer)
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if card.Number != "04A1B2C3" {
		t.Errorf("card number = %q, want 04A1B2C3 (the stale answer was taken)", card.Number)
	}
}

func TestEncodeTruncatedAnswer(t *testing.T) {
	// The line drops the end of the answer: the host NAKs the stump once
	// the line stays quiet for Ack, and the device re-sends.
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.handshake(cnExample)
		p.send("truncated answer", okAnswer[:10])
		p.expect("NAK", NAK)
		p.answer(okAnswer)
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
}

func TestEncodeNoiseAndSplitFrames(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.expect("ENQ", ENQ)
		p.send("noise", []byte{0x00, 'x', 0xFF})
		p.send("ACK", ACK)
		p.resync()
		p.expect("CN", cnExample)
		p.send("ACK", ACK)
		p.send("noise", []byte{0x7F})
		// A partial frame cut short by a new STX is dropped silently.
		p.send("partial", []byte("\x02OK\xB30"))
		p.send("answer head", okAnswer[:5])
		p.send("answer tail", okAnswer[5:])
		p.expect("ACK", ACK)
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
}

func TestEncodeBusyThenSuccess(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.handshake(cnExample)
		p.answer(frame("BY", "01"))
		p.expect("CN re-sent", cnExample)
		p.send("ACK", ACK)
		p.answer(okAnswer)
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
}

func TestEncodeBusyForever(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.expect("ENQ", ENQ)
		p.send("ACK", ACK)
		p.resync()
		for range 4 {
			p.expect("CN", cnExample)
			p.send("ACK", ACK)
			p.answer(frame("BY", "01"))
		}
	})
	wantKind(t, err, driver.Busy, "answer BY to CN on all 4 sends")
}

func TestEncodeDuplicateAnswerIgnored(t *testing.T) {
	// With one retry, a duplicate BY taken for a second answer would end
	// the encode as Busy.
	t.Run("during the busy pause", func(t *testing.T) {
		tm := testTiming()
		// A long pause keeps the re-sent frame inside it however slowly
		// the peer runs.
		tm.Busy = time.Second
		tm.Retries = 1
		_, err := encode(t, t.Context(), pms.New(tm), exampleJob, func(p *peer) {
			p.handshake(cnExample)
			p.answer(frame("BY", "01"))
			p.answer(frame("BY", "01")) // the device missed the ACK
			p.expect("CN re-sent", cnExample)
			p.send("ACK", ACK)
			p.answer(okAnswer)
		})
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
	})
	t.Run("before the re-sent command is ACKed", func(t *testing.T) {
		tm := testTiming()
		tm.Retries = 1
		_, err := encode(t, t.Context(), pms.New(tm), exampleJob, func(p *peer) {
			p.handshake(cnExample)
			p.answer(frame("BY", "01"))
			p.expect("CN re-sent", cnExample)
			p.answer(frame("BY", "01")) // crossed the re-sent CN
			p.send("ACK", ACK)
			p.answer(okAnswer)
		})
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
	})
	t.Run("identical answer after the ACK is new", func(t *testing.T) {
		tm := testTiming()
		tm.Retries = 1
		_, err := encode(t, t.Context(), pms.New(tm), exampleJob, func(p *peer) {
			p.handshake(cnExample)
			p.answer(frame("BY", "01"))
			p.expect("CN re-sent", cnExample)
			p.send("ACK", ACK)
			p.answer(frame("BY", "01"))
		})
		wantKind(t, err, driver.Busy, "answer BY to CN on all 2 sends")
	})
}

func TestEncodeOldAnswerCrossesTheNextCommand(t *testing.T) {
	// The host's ACK to an OK is lost, and it moves on to its next
	// encode (the same job: the same CN bytes, and an OK that looks the
	// same). The device re-sends the OK until that CN reaches it; a copy
	// that crosses the CN on the line is the old answer, not the new
	// one. The device stops re-sending it once the CN arrives, so from
	// the ACK to CN on, the next answer is the CN's own: here TO.
	errs := encodes(t, pms.New(testTiming()), 2, func(p *peer) {
		p.handshake(cnN(0))
		p.answer(okAnswer) // the ACK read here is lost on the line
		p.expect("ENQ", ENQ)
		p.send("ACK to ENQ", ACK)
		p.expect("CN", cnN(1))
		p.answer(okAnswer) // re-sent: it crossed the CN
		p.send("ACK to CN", ACK)
		p.answer(frame("TO", "01"))
	})
	if errs[0] != nil {
		t.Fatalf("first Encode: %v", errs[0])
	}
	wantKind(t, errs[1], driver.NoCard, "answer TO")
}

func TestEncodeSameJobTwiceResynchronises(t *testing.T) {
	// The same job again sends the same CN bytes, which a device still
	// re-sending its answer to the first (the host's ACK lost) would take
	// for a retransmission and answer with that old OK: a false success.
	// So the host resynchronises first; the re-sent OK turns up during
	// the resynchronisation, is ACKed and set aside, and the CN that
	// follows is a new command.
	var errs [2]error
	_ = run(t, t.Context(), func(ctx context.Context, p driver.Port) error {
		d := pms.New(testTiming())
		_, errs[0] = d.Encode(ctx, p, exampleJob)
		_, errs[1] = d.Encode(ctx, p, exampleJob)
		return nil
	}, func(p *peer) {
		p.handshake(cnExample)
		p.answer(okAnswer) // the ACK read here is lost on the line
		p.expect("ENQ", ENQ)
		p.send("ACK to ENQ", ACK)
		p.expect("resync CC", ccFrame)
		p.send("ACK to CC", ACK)
		p.answer(okAnswer) // re-sent, during the resynchronisation
		p.answer(ccAnswer)
		p.command(cnExample)
		p.answer(frame("TO", "01"))
	})
	if errs[0] != nil {
		t.Fatalf("first Encode: %v", errs[0])
	}
	wantKind(t, errs[1], driver.NoCard, "answer TO")
}

func TestEncodeAnswerBeforeACK(t *testing.T) {
	// The device's ACK to CN is lost; its answer still counts.
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.expect("ENQ", ENQ)
		p.send("ACK", ACK)
		p.resync()
		p.expect("CN", cnExample)
		p.answer(okAnswer)
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
}

func TestEncodeSilence(t *testing.T) {
	tm := testTiming()
	tm.Answer = 300 * time.Millisecond
	_, err := encode(t, t.Context(), pms.New(tm), exampleJob, func(p *peer) {
		p.handshake(cnExample)
	})
	wantKind(t, err, driver.NotAnswering, "no answer to CN within 300ms")
}

func TestEncodeHangup(t *testing.T) {
	t.Run("waiting for the answer", func(t *testing.T) {
		_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
			p.handshake(cnExample)
			p.conn.Close()
		})
		wantKind(t, err, driver.Hangup, "")
		// net.Pipe reports the far end's close as EOF on Read and as
		// ErrClosedPipe on SetReadDeadline, whichever the driver meets first.
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("error %v: want io.EOF or io.ErrClosedPipe in its chain", err)
		}
	})
	t.Run("before the exchange", func(t *testing.T) {
		_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
			p.conn.Close()
		})
		wantKind(t, err, driver.Hangup, "")
	})
}

func TestEncodeDeadlineCancels(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	_, err := encode(t, ctx, pms.New(testTiming()), exampleJob, func(p *peer) {
		p.handshake(cnExample)
		// No answer: the deadline passes and the host cancels.
		p.expect("CC", ccFrame)
		p.send("ACK to CC", ACK)
		p.answer(frame("CC", "01"))
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if driver.KindOf(err) != 0 {
		t.Errorf("error %v carries a driver kind; an expired attempt is the context's error", err)
	}
	if !strings.Contains(err.Error(), "answer CC") {
		t.Errorf("error %q does not say the device answered CC", err)
	}
}

func TestEncodeDeadlineDeviceSilent(t *testing.T) {
	// The device stops answering altogether: the cancel handshake gives
	// up after its own bound instead of hanging on the dead line.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := encode(t, ctx, pms.New(testTiming()), exampleJob, func(p *peer) {
		p.handshake(cnExample)
		for range 4 {
			p.expect("CC", ccFrame)
		}
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "no ACK to CC") {
		t.Errorf("error %q does not say CC went unacknowledged", err)
	}
}

func TestEncodeCancelCancels(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.handshake(cnExample)
		p.cancel()
		p.expect("CC", ccFrame)
		p.send("ACK to CC", ACK)
		p.answer(frame("CC", "01"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want one wrapping context.Canceled", err)
	}
}

func TestEncodeCancelCrossesAnswer(t *testing.T) {
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.handshake(cnExample)
		p.cancel()
		p.expect("CC", ccFrame)
		// The answer was already on its way: it arrives before the ACK
		// to CC, and the CC answer follows.
		p.answer(okAnswer)
		p.send("ACK to CC", ACK)
		p.answer(ccAnswer)
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want one wrapping context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "answer OK") {
		t.Errorf("error %q does not report the crossed OK", err)
	}
}

func TestEncodeCancelWithoutOutstandingCommand(t *testing.T) {
	// Cancelled while waiting for the ACK to ENQ: nothing to cancel on
	// the device, so no CC.
	_, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
		p.expect("ENQ", ENQ)
		p.cancel()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want one wrapping context.Canceled", err)
	}
}

func TestEncodeContextAlreadyDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := encode(t, ctx, pms.New(testTiming()), exampleJob, func(*peer) {})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want one wrapping context.Canceled", err)
	}
}

func TestEncodeInvalid(t *testing.T) {
	good := exampleJob
	for name, mutate := range map[string]func(*pms.Driver, *driver.Job){
		"lower-case card id": func(_ *pms.Driver, j *driver.Job) { j.CardID = "9f2c4d1a00000001" },
		"short card id":      func(_ *pms.Driver, j *driver.Job) { j.CardID = "9F2C" },
		"no function":        func(_ *pms.Driver, j *driver.Job) { j.Function = "" },
		"year 10000":         func(_ *pms.Driver, j *driver.Job) { j.EndsAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"address":            func(d *pms.Driver, _ *driver.Job) { d.Address = "1" },
		"timing":             func(d *pms.Driver, _ *driver.Job) { d.Timing.Ack = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			d, job := pms.New(testTiming()), good
			mutate(d, &job)
			_, err := encode(t, t.Context(), d, job, func(*peer) {})
			if err == nil {
				t.Fatal("Encode succeeded")
			}
			if driver.KindOf(err) != 0 {
				t.Errorf("error %v has a driver kind; a bad job is not the encoder's failure", err)
			}
		})
	}
	t.Run("ErrInvalidJob", func(t *testing.T) {
		job := good
		job.CardID = ""
		_, err := encode(t, t.Context(), pms.New(testTiming()), job, func(*peer) {})
		if !errors.Is(err, pms.ErrInvalidJob) {
			t.Errorf("error = %v, want one wrapping pms.ErrInvalidJob", err)
		}
	})
}

// read runs Read under script.
func read(t *testing.T, script func(*peer)) (pms.CardInfo, error) {
	t.Helper()
	var info pms.CardInfo
	err := run(t, t.Context(), func(ctx context.Context, p driver.Port) error {
		var err error
		info, err = pms.New(testTiming()).Read(ctx, p)
		return err
	}, script)
	return info, err
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer []byte
		want   pms.CardInfo
	}{
		{"blank", frame("OK", "01", "04A1B2C3D4E5F6", "mifare-classic-4k", "B", ""),
			pms.CardInfo{Number: "04A1B2C3D4E5F6", Technology: "mifare-classic-4k", Content: pms.Blank}},
		{"guest", frame("OK", "01", "04A1B2C3", "mifare-classic-1k", "G", "9F2C4D1A00000001"),
			pms.CardInfo{Number: "04A1B2C3", Technology: "mifare-classic-1k", Content: pms.Guest, CardID: "9F2C4D1A00000001"}},
		{"foreign", frame("OK", "01", "04A1B2C3D4E5F60718A9", "desfire", "F", ""),
			pms.CardInfo{Number: "04A1B2C3D4E5F60718A9", Technology: "desfire", Content: pms.Foreign}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := read(t, func(p *peer) {
				p.handshake(rcFrame)
				p.answer(tc.answer)
			})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if info != tc.want {
				t.Errorf("info = %+v, want %+v", info, tc.want)
			}
		})
	}
	t.Run("no card", func(t *testing.T) {
		_, err := read(t, func(p *peer) {
			p.handshake(rcFrame)
			p.answer(frame("NC", "01"))
		})
		wantKind(t, err, driver.NoCard, "answer NC")
	})
	t.Run("bad content", func(t *testing.T) {
		_, err := read(t, func(p *peer) {
			p.handshake(rcFrame)
			p.answer(frame("OK", "01", "04A1B2C3", "desfire", "X", ""))
		})
		wantKind(t, err, driver.Device, `content "X"`)
	})
}

func TestTiming(t *testing.T) {
	def := pms.DefaultTiming()
	want := pms.Timing{Ack: 500 * time.Millisecond, Answer: 45 * time.Second, Busy: time.Second, Retries: 3}
	if def != want {
		t.Errorf("DefaultTiming() = %+v, want %+v", def, want)
	}
	got := def.Scaled(timescale.Scale(0.01))
	// The ACK wait stops at the link floor (100 ms); the rest scale.
	want = pms.Timing{Ack: 100 * time.Millisecond, Answer: 450 * time.Millisecond, Busy: 10 * time.Millisecond, Retries: 3}
	if got != want {
		t.Errorf("Scaled(0.01) = %+v, want %+v", got, want)
	}
	if got := def.Scaled(timescale.Real); got != def {
		t.Errorf("Scaled(Real) = %+v, want %+v", got, def)
	}
}

// staleOK is the OK to an earlier host's CN, for another card id.
var staleOK = frame("OK", "01", "04E14186FE5E51", "mifare-classic-1k", "49B2419198CB833A")

func TestResyncSetsAsideWhatWasDue(t *testing.T) {
	// A fresh line may carry what a host before this one left behind: the
	// answer to its command, still being re-sent or crossing the CC. The
	// host ACKs and sets aside every frame up to the CC answer; the
	// answer after its own command is then its own.
	for _, tc := range []struct {
		name   string
		script func(p *peer)
	}{
		{"stale OK before the ACK to CC", func(p *peer) {
			p.expect("resync CC", ccFrame)
			p.answer(staleOK)
			p.send("ACK to CC", ACK)
			p.answer(ccAnswer)
		}},
		{"stale OK after the ACK to CC", func(p *peer) {
			p.expect("resync CC", ccFrame)
			p.send("ACK to CC", ACK)
			p.answer(staleOK)
			p.answer(ccAnswer)
		}},
		{"stale OK re-sent, its ACK missed", func(p *peer) {
			p.expect("resync CC", ccFrame)
			p.send("ACK to CC", ACK)
			p.answer(staleOK)
			p.answer(staleOK)
			p.answer(ccAnswer)
		}},
		{"RM of the orphaned command", func(p *peer) {
			p.expect("resync CC", ccFrame)
			p.send("ACK to CC", ACK)
			p.answer(frame("RM", "01"))
			p.answer(ccAnswer)
		}},
		{"BY and TO before the CC answer", func(p *peer) {
			p.expect("resync CC", ccFrame)
			p.send("ACK to CC", ACK)
			p.answer(frame("BY", "01"))
			p.answer(frame("TO", "01"))
			p.answer(ccAnswer)
		}},
		{"CC answer before the ACK to CC", func(p *peer) {
			p.expect("resync CC", ccFrame)
			p.answer(ccAnswer) // the ACK was lost on the line
		}},
		{"CC NAKed once", func(p *peer) {
			p.expect("resync CC", ccFrame)
			p.send("NAK", NAK)
			p.resync()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			card, err := encode(t, t.Context(), pms.New(testTiming()), exampleJob, func(p *peer) {
				p.expect("ENQ", ENQ)
				p.send("ACK to ENQ", ACK)
				tc.script(p)
				p.command(cnExample)
				p.answer(okAnswer)
			})
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if card.Number != "04A1B2C3" || card.CardID != exampleJob.CardID {
				t.Errorf("card = %+v, want 04A1B2C3 with card id %s (a stale answer was taken)", card, exampleJob.CardID)
			}
		})
	}
}

// encodes runs Encode n times in a row with d on one line under script,
// the i-th of jobN(i), and returns each outcome's error.
func encodes(t *testing.T, d *pms.Driver, n int, script func(*peer)) []error {
	t.Helper()
	errs := make([]error, n)
	_ = run(t, t.Context(), func(ctx context.Context, p driver.Port) error {
		for i := range errs {
			_, errs[i] = d.Encode(ctx, p, jobN(i))
		}
		return nil
	}, script)
	return errs
}

// jobN is exampleJob for another room: encodes in a row send different
// CN frames, as a desk making cards for different guests does.
func jobN(i int) driver.Job {
	j := exampleJob
	j.Label = fmt.Sprintf("Room %d", 101+i)
	return j
}

// cnN is the CN frame of jobN(i); cnN(0) is cnExample.
func cnN(i int) []byte {
	return frame("CN", "01", "9F2C4D1A00000001", "G", "202611251400", "202611281100", fmt.Sprintf("Room %d", 101+i))
}

func TestResyncOnlyWhereTheLineIsInDoubt(t *testing.T) {
	t.Run("a line left idle is not resynchronised", func(t *testing.T) {
		errs := encodes(t, pms.New(testTiming()), 3, func(p *peer) {
			p.handshake(cnN(0))
			p.answer(okAnswer)
			p.known(cnN(1)) // no CC: the host left the device owing nothing
			p.answer(frame("TO", "01"))
			p.known(cnN(2)) // a documented failure answer leaves it idle too
			p.answer(okAnswer)
		})
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("Encode: %v", errs)
		}
		wantKind(t, errs[1], driver.NoCard, "answer TO")
	})
	t.Run("another line is", func(t *testing.T) {
		d := pms.New(testTiming())
		for range 2 {
			encodes(t, d, 1, func(p *peer) {
				p.handshake(cnExample)
				p.answer(okAnswer)
			})
		}
	})
	t.Run("an OK for another card id after the ACK", func(t *testing.T) {
		// The first answer after CN is an earlier command's OK: not
		// this command's answer, so the line is in doubt, and the next
		// exchange resynchronises. The real answer turns up before the
		// CC answer.
		errs := encodes(t, pms.New(testTiming()), 3, func(p *peer) {
			p.handshake(cnN(0))
			p.answer(okAnswer)
			p.known(cnN(1))
			p.answer(staleOK)
			p.expect("ENQ", ENQ)
			p.send("ACK to ENQ", ACK)
			p.expect("resync CC", ccFrame)
			p.send("ACK to CC", ACK)
			p.answer(okAnswer)
			p.answer(ccAnswer)
			p.command(cnN(2))
			p.answer(okAnswer)
		})
		wantKind(t, errs[1], driver.Device, `card id "49B2419198CB833A", want "9F2C4D1A00000001"`)
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("Encode: %v", errs)
		}
	})
	t.Run("an OK for another card id before the ACK", func(t *testing.T) {
		errs := encodes(t, pms.New(testTiming()), 3, func(p *peer) {
			p.handshake(cnN(0))
			p.answer(okAnswer)
			p.expect("ENQ", ENQ)
			p.send("ACK to ENQ", ACK)
			p.expect("CN", cnN(1))
			p.answer(staleOK) // taken as the answer whose ACK was lost
			p.send("ACK to CN, late", ACK)
			p.handshake(cnN(2))
			p.answer(okAnswer)
		})
		wantKind(t, errs[1], driver.Device, `card id "49B2419198CB833A"`)
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("Encode: %v", errs)
		}
	})
	t.Run("BY to every send, then the RM of the command that kept it busy", func(t *testing.T) {
		tm := testTiming()
		tm.Retries = 1
		errs := encodes(t, pms.New(tm), 3, func(p *peer) {
			p.handshake(cnN(0))
			p.answer(okAnswer)
			p.known(cnN(1))
			p.answer(frame("BY", "01"))
			p.command(cnN(1)) // re-sent after T_busy
			p.answer(frame("BY", "01"))
			// A device that stayed busy may be working on a command the
			// host knows nothing of: the next exchange cancels it.
			p.expect("ENQ", ENQ)
			p.send("ACK to ENQ", ACK)
			p.expect("resync CC", ccFrame)
			p.send("ACK to CC", ACK)
			p.answer(frame("RM", "01"))
			p.answer(ccAnswer)
			p.command(cnN(2))
			p.answer(okAnswer)
		})
		wantKind(t, errs[1], driver.Busy, "answer BY to CN on all 2 sends")
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("Encode: %v", errs)
		}
	})
	t.Run("a cancel answered CC leaves the line idle", func(t *testing.T) {
		d := pms.New(testTiming())
		var errs [2]error
		_ = run(t, t.Context(), func(ctx context.Context, p driver.Port) error {
			short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			_, errs[0] = d.Encode(short, p, jobN(0))
			_, errs[1] = d.Encode(ctx, p, jobN(1))
			return nil
		}, func(p *peer) {
			p.handshake(cnN(0))
			p.expect("CC", ccFrame)
			p.send("ACK to CC", ACK)
			p.answer(ccAnswer)
			p.known(cnN(1))
			p.answer(okAnswer)
		})
		if !errors.Is(errs[0], context.DeadlineExceeded) {
			t.Fatalf("first Encode = %v, want the deadline", errs[0])
		}
		if errs[1] != nil {
			t.Fatalf("second Encode: %v", errs[1])
		}
	})
}

func TestResyncFails(t *testing.T) {
	tm := testTiming()
	tm.Ack = 50 * time.Millisecond
	tm.Retries = 1
	t.Run("NAK to every CC", func(t *testing.T) {
		errs := encodes(t, pms.New(tm), 2, func(p *peer) {
			p.expect("ENQ", ENQ)
			p.send("ACK", ACK)
			for range 2 {
				p.expect("CC", ccFrame)
				p.send("NAK", NAK)
			}
			p.handshake(cnN(1)) // still in doubt: resynchronised again
			p.answer(okAnswer)
		})
		wantKind(t, errs[0], driver.Link, "resynchronising: NAK to CC on every send (2 sends)")
		if errs[1] != nil {
			t.Fatalf("second Encode: %v", errs[1])
		}
	})
	t.Run("no CC answer", func(t *testing.T) {
		errs := encodes(t, pms.New(tm), 1, func(p *peer) {
			p.expect("ENQ", ENQ)
			p.send("ACK", ACK)
			p.expect("CC", ccFrame)
			p.send("ACK to CC", ACK)
			p.answer(staleOK) // but never the CC answer
		})
		wantKind(t, errs[0], driver.NotAnswering, "resynchronising: no answer to CC within 200ms")
	})
	t.Run("cancelled", func(t *testing.T) {
		var err error
		_ = run(t, t.Context(), func(ctx context.Context, p driver.Port) error {
			_, err = pms.New(tm).Encode(ctx, p, exampleJob)
			return nil
		}, func(p *peer) {
			p.expect("ENQ", ENQ)
			p.send("ACK", ACK)
			p.expect("CC", ccFrame)
			p.cancel() // no second CC: the one on the line is no command of the host's
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Encode = %v, want one wrapping context.Canceled", err)
		}
	})
}

// valuePort is a port whose dynamic type is not comparable: it cannot
// key a map.
type valuePort struct {
	net.Conn
	tags []string
}

func TestResyncOnAPortThatCannotBeRemembered(t *testing.T) {
	d := pms.New(testTiming())
	var errs [2]error
	_ = run(t, t.Context(), func(ctx context.Context, p driver.Port) error {
		vp := valuePort{Conn: p.(net.Conn), tags: []string{"desk"}}
		for i := range errs {
			_, errs[i] = d.Encode(ctx, vp, exampleJob)
		}
		return nil
	}, func(p *peer) {
		for range 2 {
			p.handshake(cnExample) // resynchronised every time
			p.answer(okAnswer)
		}
	})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("Encode: %v", errs)
	}
}

// Scan is Read in driver.Scan's words: the staff card's content is S.
func TestScan(t *testing.T) {
	var got driver.Scan
	err := run(t, t.Context(), func(ctx context.Context, p driver.Port) error {
		var err error
		got, err = pms.New(testTiming()).Scan(ctx, p)
		return err
	}, func(p *peer) {
		p.handshake(rcFrame)
		p.answer(frame("OK", "01", "04A1B2C3", "mifare-classic-1k", "S", "00000000000000AA"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (driver.Scan{Number: "04A1B2C3", Technology: "mifare-classic-1k", Holds: driver.StaffCredential, CardID: "00000000000000AA"}); got != want {
		t.Errorf("Scan = %+v, want %+v", got, want)
	}
}
