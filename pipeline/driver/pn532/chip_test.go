package pn532

import (
	"bytes"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// chipWork is how long the scripted chip works on a command it answers
// late (lateAuthB): long against the host's look for stale input.
const chipWork = 100 * time.Millisecond

// testCard is the card in the scripted chip's field: a MIFARE Classic
// reduced to what the driver touches.
type testCard struct {
	uid    []byte
	atqa   [2]byte
	sak    byte
	blocks [64][16]byte
	// gone makes every exchange time out, as a card that left the field.
	gone bool
}

// classicCard is a blank 1K card: transport keys and access bits.
func classicCard(uid ...byte) *testCard {
	c := &testCard{uid: uid, atqa: [2]byte{0x00, 0x04}, sak: 0x08}
	for s := range 16 {
		c.blocks[s*4+3] = [16]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x80, 0x69, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	}
	return c
}

// testChip plays a PN532 on one end of net.Pipe from a script: each
// information frame is ACKed and answered by respond, unless a fault
// field says otherwise. It records every command and abort.
type testChip struct {
	conn net.Conn
	card *testCard
	// second is a card stacked on card: listed too when the host asks
	// for two targets (MaxTg 2).
	second *testCard

	mu      sync.Mutex
	cmds    [][]byte // command code and parameters of each frame taken
	aborts  int
	nacks   int // NACK frames received from the host
	silent  bool
	nackAll bool
	garble  int // damage the DCS of this many responses
	badLen  int // damage the LCS of this many responses
	// badACK sends this many ACKs with LEN damaged to 01: with the
	// response's first 00 as DCS, 00 00 FF 01 FF 00 00 is a frame with
	// good checksums and TFI 00.
	badACK int
	// twice sends this many responses twice, in one write.
	twice int
	// staleBeforePoll precedes each response to InListPassiveTarget with
	// the chip's previous response, sent again.
	staleBeforePoll bool
	// lateAuthB holds the first authentication with key B until the host
	// sends it again, then ACKs and answers both copies, the second after
	// chipWork.
	lateAuthB bool
	// secondAfterNext, with lateAuthB, holds the second copy's ACK and
	// response until the host's next command arrives, and sends them
	// before that command's: as on a slow line where they come after the
	// host stopped waiting for them (seen in fault-pn532-slow-line).
	secondAfterNext bool
	owed            [][]byte
	held            []byte
	delayed         []byte // written after chipWork
	busy            bool   // answer every write with status 0x27
	// goneAfter, when > 0, takes the card away after that many writes.
	goneAfter int
	fw        []byte
	authedAs  byte // 0, or the key type of the last good authentication
	halted    bool
	last      []byte
}

// newTestChip serves a chip with card c in its field; opts set its
// faults before it starts.
func newTestChip(t *testing.T, c *testCard, opts ...func(*testChip)) (*testChip, net.Conn) {
	t.Helper()
	host, dev := net.Pipe()
	ch := &testChip{conn: dev, card: c, fw: []byte{0x32, 0x01, 0x06, 0x07}}
	for _, o := range opts {
		o(ch)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ch.serve()
	}()
	t.Cleanup(func() {
		host.Close()
		dev.Close()
		<-done
	})
	return ch, host
}

// chipFrame is a chip information frame carrying data, written out by
// hand from the frame format.
func chipFrame(data ...byte) []byte {
	sum := byte(0xD5)
	for _, c := range data {
		sum += c
	}
	out := []byte{0x00, 0x00, 0xFF, byte(len(data) + 1), byte(-(len(data) + 1)), 0xD5}
	out = append(out, data...)
	return append(out, -sum, 0x00)
}

func (ch *testChip) serve() {
	// What the chip sends goes out through a buffer, as through a UART's
	// FIFO: the chip does not wait for the host to read before it reads
	// the host's next frame.
	out := make(chan []byte, 64)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for b := range out {
			if _, err := ch.conn.Write(b); err != nil {
				for range out {
				}
				return
			}
		}
	}()
	defer func() {
		close(out)
		<-written
	}()
	var dec decoder
	buf := make([]byte, 512)
	for {
		n, err := ch.conn.Read(buf)
		if err != nil {
			return
		}
		for _, c := range buf[:n] {
			ev, ok := dec.Feed(c)
			if !ok {
				continue
			}
			for _, b := range ch.handle(ev) {
				out <- b
			}
			if b := ch.takeDelayed(); b != nil {
				<-time.After(chipWork) // the chip works on the command
				out <- b
			}
		}
	}
}

func (ch *testChip) handle(ev event) [][]byte {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	switch ev.kind {
	case evACK:
		ch.aborts++
		return nil
	case evNACK:
		ch.nacks++
		return [][]byte{ch.damaged(ch.last)}
	case evInfo:
	default:
		return nil
	}
	if ev.tfi != 0xD4 || len(ev.data) == 0 || ch.silent {
		return nil
	}
	if ch.nackAll {
		return [][]byte{nack}
	}
	if ch.lateAuthB && ev.data[0] == cmdInDataExchange && len(ev.data) > 2 && ev.data[2] == mfAuthB {
		if ch.held == nil {
			ch.held = ev.data
			return nil
		}
		ch.lateAuthB = false
		first := ch.answer(ch.held)
		if ch.secondAfterNext {
			ch.owed = [][]byte{ackFrame, ch.answer(ev.data)}
			return [][]byte{ackFrame, first}
		}
		ch.delayed = ch.answer(ev.data)
		return [][]byte{ackFrame, first, ackFrame}
	}
	var out [][]byte
	out, ch.owed = ch.owed, nil
	prev := ch.last
	r := ch.answer(ev.data)
	ack := ackFrame
	if ch.badACK > 0 {
		ch.badACK--
		ack = []byte{0x00, 0x00, 0xFF, 0x01, 0xFF, 0x00}
	}
	if ch.staleBeforePoll && ev.data[0] == cmdInListPassiveTarget && prev != nil {
		out = append(out, prev)
	}
	if ch.twice > 0 {
		ch.twice--
		return append(out, ack, append(slices.Clone(r), r...))
	}
	return append(out, ack, r)
}

// answer takes the command data, acts on it and returns its response
// frame, damaged while a fault lasts.
func (ch *testChip) answer(data []byte) []byte {
	ch.cmds = append(ch.cmds, data)
	ch.last = chipFrame(append([]byte{data[0] + 1}, ch.respond(data[0], data[1:])...)...)
	return ch.damaged(ch.last)
}

// takeDelayed returns the frame to send after chipWork, if any.
func (ch *testChip) takeDelayed() []byte {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	out := ch.delayed
	ch.delayed = nil
	return out
}

// damaged returns f with its LCS spoiled while badLen lasts, else its
// DCS while garble lasts.
func (ch *testChip) damaged(f []byte) []byte {
	switch {
	case ch.badLen > 0:
		ch.badLen--
		f = slices.Clone(f)
		f[4] ^= 0x55
	case ch.garble > 0:
		ch.garble--
		f = slices.Clone(f)
		f[len(f)-2] ^= 0x55
	}
	return f
}

func (ch *testChip) respond(cmd byte, p []byte) []byte {
	switch cmd {
	case cmdGetFirmwareVersion:
		return ch.fw
	case cmdDiagnose:
		// Test 00, the communication line test, echoes its data
		// (UM0701-02 7.2.1); the response carries NumTst first.
		if len(p) > 0 && p[0] == 0x00 {
			return p
		}
		return nil
	case cmdInListPassiveTarget:
		c := ch.card
		if c == nil || (len(p) > 2 && !bytes.Equal(p[2:], selectData(c.uid))) {
			return []byte{0}
		}
		ch.halted, ch.authedAs = false, 0
		out := []byte{1, 1, c.atqa[0], c.atqa[1], c.sak, byte(len(c.uid))}
		out = append(out, c.uid...)
		if o := ch.second; o != nil && p[0] == 2 && len(p) == 2 {
			out[0] = 2
			out = append(out, 2, o.atqa[0], o.atqa[1], o.sak, byte(len(o.uid)))
			out = append(out, o.uid...)
		}
		return out
	case cmdInDataExchange:
		return ch.exchange(p[1:])
	}
	return nil
}

// selectData is the InitiatorData that selects the card with uid, as
// the table of UM0701-02 7.3.5 gives it: cascade level 1 "UID1 UID2 UID3
// UID4", level 2 "CT UID1 … UID7", level 3 "CT UID1 UID2 UID3 CT UID4 …
// UID10", with CT the cascade tag 0x88.
func selectData(uid []byte) []byte {
	switch len(uid) {
	case 7:
		return append([]byte{0x88}, uid...)
	case 10:
		return slices.Concat([]byte{0x88}, uid[:3], []byte{0x88}, uid[3:])
	}
	return uid
}

func (ch *testChip) exchange(d []byte) []byte {
	c := ch.card
	if c == nil || c.gone || ch.halted {
		return []byte{0x01}
	}
	trailer := &c.blocks[d[1]/4*4+3]
	switch d[0] {
	case mfAuthA, mfAuthB:
		key := trailer[0:6]
		if d[0] == mfAuthB {
			key = trailer[10:16]
		}
		transport := bytes.Equal(trailer[6:9], []byte{0xFF, 0x07, 0x80})
		if len(d) != 12 || !bytes.Equal(d[8:12], c.uid[len(c.uid)-4:]) {
			// Crypto1 takes the UID's last four bytes (libnfc's
			// nfc-mfclassic sends the same).
			ch.halted = true
			return []byte{stMifare}
		}
		if !bytes.Equal(key, d[2:8]) || (d[0] == mfAuthB && transport) {
			ch.halted = true
			return []byte{stMifare}
		}
		ch.authedAs = d[0]
		return []byte{stOK}
	case mfRead:
		if ch.authedAs == 0 {
			return []byte{stMifare}
		}
		return append([]byte{stOK}, c.blocks[d[1]][:]...)
	case mfWrite:
		if ch.busy {
			return []byte{stContext}
		}
		if ch.authedAs == 0 {
			return []byte{stMifare}
		}
		c.blocks[d[1]] = [16]byte(d[2:18])
		if ch.goneAfter > 0 {
			if ch.goneAfter--; ch.goneAfter == 0 {
				c.gone = true
			}
		}
		return []byte{stOK}
	}
	return []byte{0x01}
}

// commands returns the command codes the chip took, in order.
func (ch *testChip) commands() []byte {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	var out []byte
	for _, c := range ch.cmds {
		out = append(out, c[0])
	}
	return out
}

// writes returns the blocks written, in order.
func (ch *testChip) writes() []byte {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	var out []byte
	for _, c := range ch.cmds {
		if c[0] == cmdInDataExchange && c[2] == mfWrite {
			out = append(out, c[3])
		}
	}
	return out
}
