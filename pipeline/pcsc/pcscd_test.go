package pcsc_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/pcscd"
	"github.com/encoderlab/encoderlab/internal/pcscd/pcscdtest"
	"github.com/encoderlab/encoderlab/pipeline/pcsc"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The card of these tests: a MIFARE Classic 1K's ATR as a PC/SC reader
// builds it, and its UID's answer to FF CA 00 00 00.
var (
	cardATR = []byte{0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x6A}
	getUID  = []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}
	uidResp = []byte{0x04, 0xA1, 0xB2, 0xC3, 0x90, 0x00}
)

// card is a virtual card on vpcd's protocol, its answers written here
// from vsmartcard's vpcd.c (internal/pcscd frames the messages): a
// 1-byte payload from vpcd
// is a control (00 power off, 01 power on, 02 reset, none answered; 04
// get the ATR, answered with it); a longer one is an APDU, answered with
// its response. Closing the connection takes the card away.
type card struct {
	conn net.Conn
	// vanish: the card leaves (its connection closes) when an APDU
	// reaches it, before it answers.
	vanish bool
	done   chan struct{}

	mu       sync.Mutex
	controls []byte // the controls vpcd sent, in order
}

// sawControl reports whether vpcd sent control b since the last call.
func (c *card) sawControl(b byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	saw := bytes.IndexByte(c.controls, b) >= 0
	c.controls = nil
	return saw
}

// insert connects a card to d's vpcd. remove takes it away and waits for
// its goroutine.
func insert(ctx context.Context, t testing.TB, d *pcscd.Daemon, vanish bool) *card {
	t.Helper()
	conn, err := d.DialCard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := &card{conn: conn, vanish: vanish, done: make(chan struct{})}
	go c.serve()
	t.Cleanup(c.remove)
	return c
}

func (c *card) remove() {
	c.conn.Close()
	<-c.done
}

func (c *card) serve() {
	defer close(c.done)
	defer c.conn.Close()
	for {
		msg, err := pcscd.ReadMessage(c.conn)
		if err != nil {
			return
		}
		var out []byte
		switch {
		case len(msg) == 1 && msg[0] == 0x04:
			out = cardATR
		case len(msg) == 1:
			c.mu.Lock()
			c.controls = append(c.controls, msg[0])
			c.mu.Unlock()
			continue
		case c.vanish:
			return
		case bytes.Equal(msg, getUID):
			out = uidResp
		default:
			out = []byte{0x6D, 0x00}
		}
		if err := pcscd.WriteMessage(c.conn, out); err != nil {
			return
		}
	}
}

// daemon starts a private pcscd: these tests are the client's only
// check against the real daemon.
func daemon(t testing.TB) *pcscd.Daemon {
	t.Helper()
	return pcscdtest.Start(t, pcscd.Options{})
}

// establish opens a context on d, released and closed at the test's end.
func establish(ctx context.Context, t testing.TB, d *pcscd.Daemon) *pcsc.Context {
	t.Helper()
	conn, err := net.Dial("unix", d.Socket())
	if err != nil {
		t.Fatal(err)
	}
	c, err := pcsc.Establish(ctx, conn.(*net.UnixConn))
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Release(ctx); err != nil && c.Err() == nil {
			t.Errorf("Release: %v", err)
		}
		conn.Close()
	})
	return c
}

// reader finds a reader by name.
func reader(rs []pcsc.Reader, name string) (pcsc.Reader, bool) {
	for _, r := range rs {
		if r.Name == name {
			return r, true
		}
	}
	return pcsc.Reader{}, false
}

// await polls Readers until reader name satisfies ok, or ctx ends.
func await(ctx context.Context, t testing.TB, c *pcsc.Context, name string, what string, ok func(pcsc.Reader) bool) pcsc.Reader {
	t.Helper()
	var last pcsc.Reader
	for {
		rs, err := c.Readers(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v (last state %v)", what, err, last.State)
		}
		if r, found := reader(rs, name); found {
			last = r
			if ok(r) {
				return r
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last state %v", what, ctx.Err(), last.State)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func present(r pcsc.Reader) bool { return r.Present() }
func empty(r pcsc.Reader) bool   { return r.Empty() }

// TestReadersThenCard: the reader is empty until a card connects to
// vpcd, then present with the card's ATR after pcscd's next poll.
func TestReadersThenCard(t *testing.T) {
	d := daemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := establish(ctx, t, d)
	rs, err := c.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// vpcd always opens two slots.
	if len(rs) != 2 || rs[0].Name != d.Reader() || rs[1].Name != pcscd.DefaultReaderName+" 00 01" {
		t.Fatalf("readers %+v, want %q and its second slot", rs, d.Reader())
	}
	before := rs[0]
	if !before.Empty() || before.Present() || before.ATR != nil {
		t.Fatalf("reader before any card: %+v (state %v), want empty", before, before.State)
	}
	insert(ctx, t, d, false)
	placed := time.Now()
	r := await(ctx, t, c, d.Reader(), "the card", present)
	t.Logf("card present %v after it connected to vpcd; state %v", time.Since(placed).Round(time.Millisecond), r.State)
	if !bytes.Equal(r.ATR, cardATR) {
		t.Errorf("ATR % X, want % X", r.ATR, cardATR)
	}
	if r.Empty() || r.EventCounter != before.EventCounter+1 {
		t.Errorf("reader %+v: want not empty, event counter %d", r, before.EventCounter+1)
	}
}

// uidFromOpenSC runs OpenSC's opensc-tool, the independent PC/SC host, on
// d's socket and returns the response it printed (data, then the status
// word).
func uidFromOpenSC(ctx context.Context, t *testing.T, d *pcscd.Daemon) []byte {
	t.Helper()
	bin, err := exec.LookPath("opensc-tool")
	if err != nil {
		t.Fatal("opensc-tool is not installed: it is this test's independent PC/SC host (make pcsc; Debian: apt-get install opensc)")
	}
	cmd := exec.CommandContext(ctx, bin, "-r", "0", "-s", "FF CA 00 00 00")
	cmd.Env = append(os.Environ(), "PCSCLITE_CSOCK_NAME="+d.Socket())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("opensc-tool: %v:\n%s", err, out)
	}
	// "Received (SW1=0x90, SW2=0x00):\n04 A1 B2 C3 ...."
	m := regexp.MustCompile(`Received \(SW1=0x([0-9A-Fa-f]{2}), SW2=0x([0-9A-Fa-f]{2})\):?\n((?:[0-9A-Fa-f]{2} )*)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("opensc-tool printed no response:\n%s", out)
	}
	resp, err := hex.DecodeString(strings.ReplaceAll(m[3], " ", "") + m[1] + m[2])
	if err != nil {
		t.Fatalf("opensc-tool's response %q: %v", m[0], err)
	}
	return resp
}

// TestTransmit connects, gets the UID in a transaction, and checks
// opensc-tool gets the same bytes from the same daemon.
func TestTransmit(t *testing.T) {
	d := daemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := establish(ctx, t, d)
	crd := insert(ctx, t, d, false)
	await(ctx, t, c, d.Reader(), "the card", present)
	k, err := c.Connect(ctx, d.Reader(), pcsc.ShareShared, pcsc.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	if k.Reader() != d.Reader() {
		t.Errorf("Card.Reader() = %q, want %q", k.Reader(), d.Reader())
	}
	if k.Protocol() != pcsc.ProtocolT0 && k.Protocol() != pcsc.ProtocolT1 {
		t.Errorf("active protocol %d", k.Protocol())
	}
	if err := k.BeginTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := k.Transmit(ctx, getUID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp, uidResp) {
		t.Errorf("FF CA 00 00 00 → % X, want % X", resp, uidResp)
	}
	if resp, err := k.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00, 0x00}); err != nil || !bytes.Equal(resp, []byte{0x6D, 0x00}) {
		t.Errorf("another APDU → % X, %v; want the card's 6D 00", resp, err)
	}
	if err := k.EndTransaction(ctx, pcsc.LeaveCard); err != nil {
		t.Fatal(err)
	}
	// A reset, as a host lifts a halted MIFARE card: vpcd's control 02.
	crd.sawControl(0x02)
	if err := k.Reconnect(ctx, pcsc.ShareShared, pcsc.ProtocolAny, pcsc.ResetCard); err != nil {
		t.Fatal(err)
	}
	if !crd.sawControl(0x02) {
		t.Error("Reconnect with ResetCard: the card saw no reset (control 02)")
	}
	if again, err := k.Transmit(ctx, getUID); err != nil || !bytes.Equal(again, uidResp) {
		t.Errorf("after the reset: % X, %v", again, err)
	}
	if err := k.Disconnect(ctx, pcsc.LeaveCard); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Transmit(ctx, getUID); !errors.Is(err, pcsc.ErrInvalidHandle) {
		t.Errorf("Transmit after Disconnect: %v, want SCARD_E_INVALID_HANDLE", err)
	}
	if got := uidFromOpenSC(ctx, t, d); !bytes.Equal(got, resp) {
		t.Errorf("opensc-tool got % X, this client % X", got, resp)
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
}

// TestCardLeaves: a card that leaves while an APDU is at it: pcscd
// reports success with no response, which Transmit makes
// ErrNoStatusWord; the handle then gets SCARD_E_NOT_TRANSACTED until
// pcscd's poll sees the reader empty, SCARD_W_REMOVED_CARD after, and
// Connect SCARD_E_NO_SMARTCARD. None of it breaks the Context.
func TestCardLeaves(t *testing.T) {
	d := daemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := establish(ctx, t, d)
	insert(ctx, t, d, true)
	await(ctx, t, c, d.Reader(), "the card", present)
	k, err := c.Connect(ctx, d.Reader(), pcsc.ShareShared, pcsc.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := k.Transmit(ctx, getUID)
	if !errors.Is(err, pcsc.ErrNoStatusWord) || len(resp) != 0 {
		t.Fatalf("Transmit to a card that leaves: % X, %v; want no response and ErrNoStatusWord", resp, err)
	}
	t.Logf("mid-transmit removal: %v", err)
	if err := c.Err(); err != nil {
		t.Fatalf("Err after the card left: %v", err)
	}
	// vpcd has ejected the card; pcscd finds out at its next poll.
	_, err = k.Transmit(ctx, getUID)
	var e *pcsc.Error
	if !errors.As(err, &e) || (e.Code != pcsc.ErrNotTransacted && e.Code != pcsc.WarnRemovedCard) {
		t.Errorf("Transmit right after the card left: %v, want SCARD_E_NOT_TRANSACTED (or, past pcscd's poll, SCARD_W_REMOVED_CARD)", err)
	}
	t.Logf("transmit right after: %v", err)
	await(ctx, t, c, d.Reader(), "the reader empty", empty)
	_, err = k.Transmit(ctx, getUID)
	if !errors.Is(err, pcsc.WarnRemovedCard) {
		t.Errorf("Transmit on the handle once the reader is empty: %v, want SCARD_W_REMOVED_CARD", err)
	}
	t.Logf("transmit after removal: %v", err)
	if _, err := c.Connect(ctx, d.Reader(), pcsc.ShareShared, pcsc.ProtocolAny); !errors.Is(err, pcsc.ErrNoSmartcard) {
		t.Errorf("Connect to the empty reader: %v, want SCARD_E_NO_SMARTCARD", err)
	}
	if _, err := c.Connect(ctx, "no such reader", pcsc.ShareShared, pcsc.ProtocolAny); !errors.Is(err, pcsc.ErrUnknownReader) {
		t.Errorf("Connect to an unknown reader: %v, want SCARD_E_UNKNOWN_READER", err)
	}
	if err := k.Disconnect(ctx, pcsc.LeaveCard); err != nil {
		t.Errorf("Disconnect a removed card: %v", err)
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
}

// TestWaitChange: a wait with no change times out and leaves the
// Context usable; a wait wakes when the card comes and when it goes; a
// cancelled wait ends at once and leaves the Context usable.
func TestWaitChange(t *testing.T) {
	d := daemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := establish(ctx, t, d)
	if _, err := c.Readers(ctx); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	changed, err := c.WaitChange(ctx, 300*time.Millisecond)
	if err != nil || changed {
		t.Fatalf("WaitChange with nothing happening: %v, %v; want false, nil", changed, err)
	}
	if took := time.Since(began); took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("a 300 ms wait took %v", took)
	}
	if changed, err := c.WaitChange(ctx, 0); err != nil || changed {
		t.Errorf("WaitChange(0): %v, %v; want false, nil", changed, err)
	}

	// The card comes while the wait waits.
	var placed time.Time
	var wg sync.WaitGroup
	var crd *card
	wg.Go(func() {
		time.Sleep(200 * time.Millisecond)
		placed = time.Now()
		conn, err := d.DialCard(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		crd = &card{conn: conn, done: make(chan struct{})}
		go crd.serve()
	})
	changed, err = c.WaitChange(ctx, 20*time.Second)
	woke := time.Now()
	wg.Wait()
	if crd == nil {
		t.FailNow()
	}
	defer crd.remove()
	if err != nil || !changed {
		t.Fatalf("WaitChange while the card comes: %v, %v; want true", changed, err)
	}
	t.Logf("WaitChange woke %v after the card connected", woke.Sub(placed).Round(time.Millisecond))
	rs, err := c.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := reader(rs, d.Reader()); !r.Present() || !bytes.Equal(r.ATR, cardATR) {
		t.Errorf("after the wake: %+v, want the card", r)
	}

	// The card goes.
	time.AfterFunc(200*time.Millisecond, crd.remove)
	if changed, err := c.WaitChange(ctx, 20*time.Second); err != nil || !changed {
		t.Fatalf("WaitChange while the card goes: %v, %v; want true", changed, err)
	}
	rs, err = c.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := reader(rs, d.Reader()); !r.Empty() {
		t.Errorf("after the wake: %+v, want empty", r)
	}

	// A wait cut short by its ctx.
	short, stop := context.WithCancel(ctx)
	time.AfterFunc(200*time.Millisecond, stop)
	began = time.Now()
	if _, err := c.WaitChange(short, 20*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled WaitChange: %v, want Canceled", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the cancelled wait took %v", took)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err after a cancelled wait: %v", err)
	}
	if _, err := c.Readers(ctx); err != nil {
		t.Errorf("Readers after a cancelled wait: %v", err)
	}
	// And one cut short by its deadline.
	short, stop = context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	if _, err := c.WaitChange(short, 20*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a WaitChange past its deadline: %v, want DeadlineExceeded", err)
	}
	if _, err := c.Readers(ctx); err != nil {
		t.Errorf("Readers after a wait past its deadline: %v", err)
	}
}
