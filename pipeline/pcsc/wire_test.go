package pcsc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/pcsc"
)

// script is pcscd played from a script: Reads return the replies, Writes
// are recorded. Deadlines are ignored (a Read never blocks).
type script struct {
	replies *bytes.Reader
	written bytes.Buffer
}

func newScript(replies ...[]byte) *script {
	return &script{replies: bytes.NewReader(bytes.Join(replies, nil))}
}

func (s *script) Read(p []byte) (int, error)       { return s.replies.Read(p) }
func (s *script) Write(p []byte) (int, error)      { return s.written.Write(p) }
func (s *script) SetReadDeadline(time.Time) error  { return nil }
func (s *script) SetWriteDeadline(time.Time) error { return nil }

// take returns and forgets what the client wrote so far.
func (s *script) take() []byte {
	b := bytes.Clone(s.written.Bytes())
	s.written.Reset()
	return b
}

// h decodes hex written with spaces and newlines for reading.
func h(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// le is a little-endian uint32, as pcscd's fields are on amd64/arm64.
func le(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// The replies of an Establish, from winscard_msg.h: version_struct
// {int32 major, int32 minor, uint32 rv} = 4, 4, SCARD_S_SUCCESS;
// establish_struct {uint32 dwScope, uint32 hContext, uint32 rv} with
// hContext 0x12345678.
const (
	versionReply   = "04000000 04000000 00000000"
	establishReply = "02000000 78563412 00000000"
)

// TestWireBytes checks the bytes of each request against the C structs'
// layout, written out here from winscard_msg.h and eventhandler.h (every
// field a little-endian 32-bit integer; rxHeader {size, command} before
// each request; replies bare), not from the package's encoder.
func TestWireBytes(t *testing.T) {
	ctx := context.Background()
	// SCARD_CONNECT's reply: hCard 0x01020304, T=1.
	name := append([]byte("Reader X"), make([]byte, 128-len("Reader X"))...)
	connectRep := bytes.Join([][]byte{
		h(t, "78563412"), name,
		h(t, "02000000 03000000 04030201 02000000 00000000"),
	}, nil)
	// SCARD_TRANSMIT's: the struct back with pcbRecvLength 6, then 6 bytes.
	transmitRep := h(t, `
		04030201 02000000 10000000 05000000 02000000 10000000 06000000 00000000
		04a1b2c3 9000`)
	s := newScript(h(t, versionReply), h(t, establishReply), connectRep, transmitRep)
	c, err := pcsc.Establish(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	// CMD_VERSION = 0x11, sizeof(version_struct) = 12; then
	// SCARD_ESTABLISH_CONTEXT = 0x01, sizeof(establish_struct) = 12,
	// dwScope SCARD_SCOPE_SYSTEM = 2.
	want := h(t, `
		0c000000 11000000  04000000 04000000 00000000
		0c000000 01000000  02000000 00000000 00000000`)
	if got := s.take(); !bytes.Equal(got, want) {
		t.Errorf("Establish wrote\n% X\nwant\n% X", got, want)
	}

	// SCARD_CONNECT = 0x04; connect_struct {uint32 hContext; char
	// szReader[128]; uint32 dwShareMode, dwPreferredProtocols; int32
	// hCard; uint32 dwActiveProtocol, rv} = 4+128+20 = 152 (0x98) bytes.
	connectReq := bytes.Join([][]byte{
		h(t, "98000000 04000000 78563412"), name,
		h(t, "02000000 03000000 00000000 00000000 00000000"),
	}, nil)
	// SCARD_TRANSMIT = 0x09; transmit_struct {int32 hCard; uint32
	// ioSendPciProtocol, ioSendPciLength, cbSendLength,
	// ioRecvPciProtocol, ioRecvPciLength, pcbRecvLength, rv} = 32 bytes,
	// then the APDU. The PCI lengths are sizeof(SCARD_IO_REQUEST), 16 on
	// LP64; pcbRecvLength the buffer, MAX_BUFFER_SIZE_EXTENDED = 65548
	// (0x1000C).
	transmitReq := h(t, `
		20000000 09000000
		04030201 02000000 10000000 05000000 03000000 10000000 0c000100 00000000
		ffca000000`)
	k, err := c.Connect(ctx, "Reader X", pcsc.ShareShared, pcsc.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.take(); !bytes.Equal(got, connectReq) {
		t.Errorf("Connect wrote\n% X\nwant\n% X", got, connectReq)
	}
	if k.Protocol() != pcsc.ProtocolT1 {
		t.Errorf("active protocol %d, want T=1", k.Protocol())
	}
	resp, err := k.Transmit(ctx, h(t, "ff ca 00 00 00"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.take(); !bytes.Equal(got, transmitReq) {
		t.Errorf("Transmit wrote\n% X\nwant\n% X", got, transmitReq)
	}
	if !bytes.Equal(resp, h(t, "04a1b2c3 9000")) {
		t.Errorf("Transmit returned % X", resp)
	}
}

// readersState lays out CMD_GET_READERS_STATE's reply by hand from
// eventhandler.h's READER_STATE: readerName[128] at 0, eventCounter at
// 128, readerState at 132, readerSharing at 136, cardAtr[33] at 140,
// three bytes of padding, cardAtrLength at 176, cardProtocol at 180: 184
// bytes, 16 of them.
func readersState(records ...[]byte) []byte {
	b := make([]byte, 16*184)
	for i, r := range records {
		copy(b[i*184:], r)
	}
	return b
}

func record(name string, counter, state uint32, sharing int32, atr []byte, atrLen, proto uint32) []byte {
	r := make([]byte, 184)
	copy(r, name)
	copy(r[128:], le(counter))
	copy(r[132:], le(state))
	copy(r[136:], le(uint32(sharing)))
	copy(r[140:], atr)
	copy(r[176:], le(atrLen))
	copy(r[180:], le(proto))
	return r
}

func TestReaderStateLayout(t *testing.T) {
	atr := h(t, "3B8F8001804F0CA000000306030001000000006A")
	s := newScript(h(t, versionReply), h(t, establishReply), readersState(
		record("Encoderlab PC/SC 00 00", 3, 0x34, 1, atr, uint32(len(atr)), 2),
		record("Encoderlab PC/SC 00 01", 0, 0x02, 0, nil, 0, 0),
	))
	c, err := pcsc.Establish(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	s.take()
	rs, err := c.Readers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// CMD_GET_READERS_STATE = 0x12, no struct.
	if got := s.take(); !bytes.Equal(got, h(t, "00000000 12000000")) {
		t.Errorf("Readers wrote % X", got)
	}
	if len(rs) != 2 {
		t.Fatalf("%d readers, want 2: %+v", len(rs), rs)
	}
	r := rs[0]
	if r.Name != "Encoderlab PC/SC 00 00" || r.EventCounter != 3 || r.State != pcsc.StatePresent|pcsc.StatePowered|pcsc.StateNegotiable ||
		r.Sharing != 1 || !bytes.Equal(r.ATR, atr) || r.Protocol != pcsc.ProtocolT1 || !r.Present() || r.Empty() {
		t.Errorf("reader 0 = %+v (state %v)", r, r.State)
	}
	if r := rs[1]; r.Name != "Encoderlab PC/SC 00 01" || !r.Empty() || r.Present() || r.ATR != nil {
		t.Errorf("reader 1 = %+v", r)
	}
	if got := r.State.String(); got != "PRESENT|POWERED|NEGOTIABLE" {
		t.Errorf("State.String() = %q", got)
	}
}

// TestBadReplies: bytes no pcscd sends are ProtocolErrors, and break the
// Context.
func TestBadReplies(t *testing.T) {
	ctx := context.Background()
	long := record("R", 1, 0x34, 0, nil, 40, 0) // an ATR of 40 bytes
	noNUL := record(strings.Repeat("R", 128), 1, 0x02, 0, nil, 0, 0)
	bigResp := h(t, "04030201 02000000 10000000 05000000 02000000 10000000 0d000100 00000000") // 65549 bytes
	for _, c := range []struct {
		name  string
		reply []byte
		call  func(*pcsc.Context) error
	}{
		{"ATR too long", readersState(long), func(c *pcsc.Context) error { _, err := c.Readers(ctx); return err }},
		{"name without NUL", readersState(noNUL), func(c *pcsc.Context) error { _, err := c.Readers(ctx); return err }},
		{"response too long", bytes.Join([][]byte{connected(t), bigResp}, nil), func(c *pcsc.Context) error {
			k, err := c.Connect(ctx, "R", pcsc.ShareShared, pcsc.ProtocolAny)
			if err != nil {
				return err
			}
			_, err = k.Transmit(ctx, []byte{0xFF, 0xCA, 0, 0, 0})
			return err
		}},
		{"reply cut short", h(t, "0000"), func(c *pcsc.Context) error { _, err := c.Readers(ctx); return err }},
	} {
		s := newScript(h(t, versionReply), h(t, establishReply), c.reply)
		pc, err := pcsc.Establish(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		err = c.call(pc)
		var pe *pcsc.ProtocolError
		if c.name != "reply cut short" && !errors.As(err, &pe) {
			t.Errorf("%s: %v, want a ProtocolError", c.name, err)
		}
		if !errors.Is(err, pcsc.ErrBroken) || !errors.Is(pc.Err(), pcsc.ErrBroken) {
			t.Errorf("%s: %v; Err() = %v; want both broken", c.name, err, pc.Err())
		}
		if _, err := pc.Readers(ctx); !errors.Is(err, pcsc.ErrBroken) {
			t.Errorf("%s: the next call: %v, want ErrBroken", c.name, err)
		}
	}
}

// connected is SCARD_CONNECT's reply for reader "R": hCard 0x01020304,
// T=1.
func connected(t *testing.T) []byte {
	name := append([]byte("R"), make([]byte, 127)...)
	return bytes.Join([][]byte{h(t, "78563412"), name, h(t, "02000000 03000000 04030201 02000000 00000000")}, nil)
}

// TestDeadlineBreaks: a pcscd that never answers; the call ends at ctx's
// deadline, and the Context is broken, because the reply may still come.
// A call whose ctx ended before it sent anything leaves it in step.
func TestDeadlineBreaks(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() {
		// Answer Establish's two requests, then read and never answer.
		buf := make([]byte, 20)
		for _, rep := range []string{versionReply, establishReply} {
			if _, err := io.ReadFull(server, buf); err != nil {
				return
			}
			if _, err := server.Write(h(t, rep)); err != nil {
				return
			}
		}
		_, _ = io.Copy(io.Discard, server)
	}()
	c, err := pcsc.Establish(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Readers(done); !errors.Is(err, context.Canceled) || errors.Is(err, pcsc.ErrBroken) {
		t.Errorf("Readers with an ended ctx: %v, want Canceled and not broken", err)
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err after a call that sent nothing: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = c.Readers(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, pcsc.ErrBroken) {
		t.Errorf("Readers against a silent pcscd: %v, want DeadlineExceeded and ErrBroken", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Readers took %v with a 100 ms deadline", took)
	}
	if _, err := c.Readers(context.Background()); !errors.Is(err, pcsc.ErrBroken) {
		t.Errorf("the next Readers: %v, want ErrBroken", err)
	}

	// Cancellation wakes a pending read too.
	c2, s2 := net.Pipe()
	defer c2.Close()
	defer s2.Close()
	go func() { _, _ = io.Copy(io.Discard, s2) }()
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := pcsc.Establish(ctx, c2); !errors.Is(err, context.Canceled) {
		t.Errorf("Establish cancelled while waiting: %v, want Canceled", err)
	}
}

// TestLocalRefusals: what libpcsclite refuses without asking pcscd.
func TestLocalRefusals(t *testing.T) {
	ctx := context.Background()
	s := newScript(h(t, versionReply), h(t, establishReply), connected(t),
		h(t, "04030201 00000000 00000000")) // disconnect_struct: success
	c, err := pcsc.Establish(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Connect(ctx, strings.Repeat("r", 128), pcsc.ShareShared, pcsc.ProtocolAny); !errors.Is(err, pcsc.ErrInvalidValue) {
		t.Errorf("Connect to a 128-byte name: %v, want SCARD_E_INVALID_VALUE", err)
	}
	k, err := c.Connect(ctx, "R", pcsc.ShareShared, pcsc.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Transmit(ctx, nil); !errors.Is(err, pcsc.ErrInvalidParameter) {
		t.Errorf("Transmit of nothing: %v", err)
	}
	if _, err := k.Transmit(ctx, make([]byte, pcsc.MaxBufferSizeExtended+1)); !errors.Is(err, pcsc.ErrInsufficientBuffer) {
		t.Errorf("Transmit of too much: %v", err)
	}
	if err := k.Disconnect(ctx, pcsc.LeaveCard); err != nil {
		t.Fatal(err)
	}
	s.take()
	var e *pcsc.Error
	if _, err := k.Transmit(ctx, []byte{0xFF, 0xCA, 0, 0, 0}); !errors.As(err, &e) || e.Code != pcsc.ErrInvalidHandle || e.Op != "transmit" {
		t.Errorf("Transmit after Disconnect: %v, want SCARD_E_INVALID_HANDLE", err)
	}
	if got := s.take(); len(got) != 0 {
		t.Errorf("Transmit after Disconnect wrote % X to pcscd", got)
	}
	if c.Err() != nil {
		t.Errorf("Err = %v after local refusals", c.Err())
	}
	if got, want := (&pcsc.Error{Op: "transmit", Code: pcsc.WarnRemovedCard}).Error(), "pcsc: transmit: SCARD_W_REMOVED_CARD (0x80100069)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := pcsc.Code(0x80100123).String(); got != "SCARD code 0x80100123" {
		t.Errorf("an unknown code's String() = %q", got)
	}
}

// FuzzReplies plays arbitrary bytes as pcscd's side of a whole session:
// no reply may panic the client, every failure is an error, and what the
// client returns stays within PC/SC's bounds.
func FuzzReplies(f *testing.F) {
	var seed []byte
	for _, s := range []string{versionReply, establishReply} {
		b, _ := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		seed = append(seed, b...)
	}
	atr, _ := hex.DecodeString("3B8F8001804F0CA000000306030001000000006A")
	f.Add(seed)
	rs := readersState(record("R", 1, 0x34, 0, atr, 20, 2))
	name := append([]byte("R"), make([]byte, 127)...)
	conn := bytes.Join([][]byte{le(0x12345678), name, le(2), le(3), le(0x01020304), le(2), le(0)}, nil)
	tr := bytes.Join([][]byte{le(0x01020304), le(2), le(16), le(5), le(2), le(16), le(6), le(0), {4, 0xA1, 0xB2, 0xC3, 0x90, 0}}, nil)
	f.Add(bytes.Join([][]byte{seed, rs, conn, tr, rs, le(0), le(0)}, nil))
	f.Add(bytes.Join([][]byte{seed, rs, conn, le(0x01020304), le(2), le(16), le(5), le(2), le(16), le(0xFFFFFFFF), le(0)}, nil))
	f.Fuzz(func(t *testing.T, replies []byte) {
		ctx := context.Background()
		s := newScript(replies)
		c, err := pcsc.Establish(ctx, s)
		if err != nil {
			return
		}
		if rs, err := c.Readers(ctx); err == nil {
			for _, r := range rs {
				if r.Name == "" || strings.IndexByte(r.Name, 0) >= 0 || len(r.Name) > 127 || len(r.ATR) > 33 {
					t.Fatalf("impossible reader %+v", r)
				}
			}
		}
		if k, err := c.Connect(ctx, "R", pcsc.ShareShared, pcsc.ProtocolAny); err == nil {
			if resp, err := k.Transmit(ctx, []byte{0xFF, 0xCA, 0, 0, 0}); err == nil && len(resp) > pcsc.MaxBufferSizeExtended {
				t.Fatalf("a %d-byte response", len(resp))
			}
			_ = k.Disconnect(ctx, pcsc.LeaveCard)
		}
		_, _ = c.WaitChange(ctx, 0)
		_ = c.Release(ctx)
		if _, err := c.Readers(ctx); err == nil {
			t.Fatal("Readers after Release succeeded")
		}
	})
}
