package driver

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// longWait bounds what a test waits for when it expects something else
// to happen first; generous for a loaded machine.
const longWait = 10 * time.Second

// angles decodes a toy protocol: a frame is "<" text ">", and "!" outside
// a frame is an event of its own. Events are the frame's text, or "!".
type angles struct {
	in  bool
	buf []byte
}

func (d *angles) InFrame() bool { return d.in }

func (d *angles) Reset() { d.in, d.buf = false, d.buf[:0] }

func (d *angles) Feed(b byte) (string, bool) {
	switch {
	case b == '<':
		d.in, d.buf = true, d.buf[:0]
	case !d.in && b == '!':
		return "!", true
	case d.in && b == '>':
		d.in = false
		return string(d.buf), true
	case d.in:
		d.buf = append(d.buf, b)
	}
	return "", false
}

var _ FrameDecoder[string] = (*angles)(nil)

// pipe returns the two ends of a net.Pipe, both closed when the test ends.
func pipe(t *testing.T) (host, device net.Conn) {
	t.Helper()
	host, device = net.Pipe()
	t.Cleanup(func() {
		host.Close()
		device.Close()
	})
	return host, device
}

// send writes chunks to c one Write each, in the background; the returned
// channel yields the first write error (or nil) once all are written.
func send(c net.Conn, chunks ...string) <-chan error {
	done := make(chan error, 1)
	go func() {
		for _, s := range chunks {
			if _, err := c.Write([]byte(s)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

func noStall(t *testing.T) func() (string, bool) {
	return func() (string, bool) {
		t.Error("stall function called: no frame stalled")
		return "", false
	}
}

func TestFrameReaderEventsAcrossChunks(t *testing.T) {
	host, dev := pipe(t)
	r := NewFrameReader(host, &angles{}, longWait, noStall(t))
	sent := send(dev, "noise<ab", "c>!<d", "e><f>")
	for i, want := range []string{"abc", "!", "de", "f"} {
		got, err := r.Next(context.Background(), time.Now().Add(longWait))
		if err != nil {
			t.Fatalf("event %d: Next: %v", i, err)
		}
		if got != want {
			t.Fatalf("event %d = %q, want %q", i, got, want)
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestFrameReaderStallBecomesEvent(t *testing.T) {
	host, dev := pipe(t)
	dec := &angles{}
	r := NewFrameReader(host, dec, 20*time.Millisecond, func() (string, bool) {
		ev := "stalled:" + string(dec.buf)
		dec.in = false
		return ev, true
	})
	sent := send(dev, "<ab")
	got, err := r.Next(context.Background(), time.Now().Add(longWait))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if got != "stalled:ab" {
		t.Fatalf("Next = %q, want %q", got, "stalled:ab")
	}
	if err := <-sent; err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestFrameReaderStallDroppedReadsOn(t *testing.T) {
	host, dev := pipe(t)
	dec := &angles{}
	stalls := make(chan struct{}, 1)
	r := NewFrameReader(host, dec, 20*time.Millisecond, func() (string, bool) {
		dec.in = false
		select {
		case stalls <- struct{}{}:
		default:
		}
		return "", false
	})
	// The rest of the stalled frame arrives only after the stall, and
	// must not be taken for a frame's end.
	sent := make(chan error, 1)
	go func() {
		if _, err := dev.Write([]byte("<ab")); err != nil {
			sent <- err
			return
		}
		<-stalls
		_, err := dev.Write([]byte("c><d>"))
		sent <- err
	}()
	got, err := r.Next(context.Background(), time.Now().Add(longWait))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if got != "d" {
		t.Fatalf("Next = %q, want %q (the stalled frame dropped)", got, "d")
	}
	if err := <-sent; err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestFrameReaderDeadlineBeforeStall(t *testing.T) {
	host, dev := pipe(t)
	r := NewFrameReader(host, &angles{}, longWait, noStall(t))
	// One write: the frame's start is read with the event before it.
	sent := send(dev, "!<ab")
	if got, err := r.Next(context.Background(), time.Now().Add(longWait)); err != nil || got != "!" {
		t.Fatalf("Next = %q, %v; want \"!\"", got, err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("write: %v", err)
	}
	_, err := r.Next(context.Background(), time.Now().Add(20*time.Millisecond))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Next = %v, want ErrTimeout", err)
	}
	if !r.dec.InFrame() {
		t.Fatal("the partial frame was not decoded")
	}
}

func TestFrameReaderContext(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		host, _ := pipe(t)
		r := NewFrameReader(host, &angles{}, longWait, noStall(t))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := r.Next(ctx, time.Now().Add(longWait))
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
			t.Fatalf("Next = %v, want context.Canceled", err)
		}
	})
	t.Run("deadline first", func(t *testing.T) {
		host, _ := pipe(t)
		r := NewFrameReader(host, &angles{}, longWait, noStall(t))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := r.Next(ctx, time.Now().Add(longWait))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestFrameReaderHangup(t *testing.T) {
	host, dev := pipe(t)
	r := NewFrameReader(host, &angles{}, longWait, noStall(t))
	dev.Close()
	_, err := r.Next(context.Background(), time.Now().Add(longWait))
	if KindOf(err) != Hangup || !closedPipe(err) {
		t.Fatalf("Next = %v, want a Hangup wrapping the pipe's error", err)
	}
}

func TestFrameReaderDiscard(t *testing.T) {
	host, dev := pipe(t)
	r := NewFrameReader(host, &angles{}, longWait, noStall(t))
	sent := send(dev, "<a><b>", "<c>")
	if got, err := r.Next(context.Background(), time.Now().Add(longWait)); err != nil || got != "a" {
		t.Fatalf("Next = %q, %v; want \"a\"", got, err)
	}
	r.Discard()
	if got, err := r.Next(context.Background(), time.Now().Add(longWait)); err != nil || got != "c" {
		t.Fatalf("after Discard, Next = %q, %v; want \"c\" (\"b\" was read ahead)", got, err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("write: %v", err)
	}
}

// FrameReader.Drain clears what the reader has read ahead and a frame its
// decoder has begun, not only what the port holds.
func TestFrameReaderDrain(t *testing.T) {
	host, dev := pipe(t)
	r := NewFrameReader(host, &angles{}, longWait, noStall(t))
	sent := send(dev, "<a><b><half")
	if got, err := r.Next(context.Background(), time.Now().Add(longWait)); err != nil || got != "a" {
		t.Fatalf("Next = %q, %v; want \"a\"", got, err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := r.Drain(context.Background(), 50*time.Millisecond, longWait); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	fresh := send(dev, "x>", "<fresh>")
	if got, err := r.Next(context.Background(), time.Now().Add(longWait)); err != nil || got != "fresh" {
		t.Fatalf("after Drain, Next = %q, %v; want \"fresh\" (\"b\" was read ahead, \"<half\" begun)", got, err)
	}
	if err := <-fresh; err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestWriteWithin(t *testing.T) {
	t.Run("written", func(t *testing.T) {
		host, dev := pipe(t)
		got := make(chan string, 1)
		go func() {
			b := make([]byte, 8)
			n, _ := io.ReadAtLeast(dev, b, 3)
			got <- string(b[:n])
		}()
		if err := WriteWithin(context.Background(), host, []byte("abc"), longWait, "write abc"); err != nil {
			t.Fatalf("WriteWithin: %v", err)
		}
		if s := <-got; s != "abc" {
			t.Fatalf("device read %q, want %q", s, "abc")
		}
	})
	t.Run("not reading", func(t *testing.T) {
		host, _ := pipe(t)
		err := WriteWithin(context.Background(), host, []byte("abc"), 20*time.Millisecond, "write abc")
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("WriteWithin = %v, want ErrTimeout", err)
		}
	})
	t.Run("context first", func(t *testing.T) {
		host, _ := pipe(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err := WriteWithin(ctx, host, []byte("abc"), longWait, "write abc")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WriteWithin = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("hung up", func(t *testing.T) {
		host, dev := pipe(t)
		dev.Close()
		err := WriteWithin(context.Background(), host, []byte("abc"), longWait, "write abc")
		var e *Error
		if !errors.As(err, &e) || e.Kind != Hangup || e.Detail != "write abc" {
			t.Fatalf("WriteWithin = %v, want a Hangup for \"write abc\"", err)
		}
	})
}

func TestDrainReadsUntilQuiet(t *testing.T) {
	host, dev := pipe(t)
	stale := send(dev, "stale", "<late answer>")
	if err := Drain(context.Background(), host, 100*time.Millisecond, longWait); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	// Each write returns only once read: both were consumed by Drain.
	if err := <-stale; err != nil {
		t.Fatalf("write: %v", err)
	}
	r := NewFrameReader(host, &angles{}, longWait, noStall(t))
	fresh := send(dev, "<fresh>")
	if got, err := r.Next(context.Background(), time.Now().Add(longWait)); err != nil || got != "fresh" {
		t.Fatalf("after Drain, Next = %q, %v; want \"fresh\"", got, err)
	}
	if err := <-fresh; err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestDrainBoundedOnTalkingLine(t *testing.T) {
	host, dev := pipe(t)
	stop := make(chan struct{})
	talked := make(chan struct{})
	go func() {
		defer close(talked)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := dev.Write([]byte("!")); err != nil {
				return
			}
		}
	}()
	err := Drain(context.Background(), host, time.Second, 50*time.Millisecond)
	close(stop)
	dev.Close()
	<-talked
	if err != nil {
		t.Fatalf("Drain = %v, want nil once the bound passed", err)
	}
}

func TestDrainErrors(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		host, _ := pipe(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := Drain(ctx, host, time.Millisecond, longWait); !errors.Is(err, context.Canceled) {
			t.Fatalf("Drain = %v, want context.Canceled", err)
		}
	})
	t.Run("hung up", func(t *testing.T) {
		host, dev := pipe(t)
		dev.Close()
		err := Drain(context.Background(), host, time.Millisecond, longWait)
		if KindOf(err) != Hangup || !closedPipe(err) {
			t.Fatalf("Drain = %v, want a Hangup wrapping the pipe's error", err)
		}
	})
}

// flushing is a Port that can flush its input, and must not be read.
type flushing struct {
	net.Conn
	t       *testing.T
	flushes int
	err     error
}

func (f *flushing) FlushInput() error { f.flushes++; return f.err }

func (f *flushing) Read([]byte) (int, error) {
	f.t.Error("Read on a port that flushes")
	return 0, io.EOF
}

func TestDrainFlushes(t *testing.T) {
	host, _ := pipe(t)
	p := &flushing{Conn: host, t: t}
	if err := Drain(context.Background(), p, time.Millisecond, longWait); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if p.flushes != 1 {
		t.Fatalf("FlushInput called %d times, want 1", p.flushes)
	}
	p.err = errors.New("tcflush: input/output error")
	if err := Drain(context.Background(), p, time.Millisecond, longWait); KindOf(err) != Hangup || !errors.Is(err, p.err) {
		t.Fatalf("Drain = %v, want a Hangup wrapping the flush error", err)
	}
}

func TestWakeOnDone(t *testing.T) {
	t.Run("cancel wakes a blocked read", func(t *testing.T) {
		host, _ := pipe(t)
		ctx, cancel := context.WithCancel(context.Background())
		stop := WakeOnDone(ctx, host)
		defer stop()
		read := make(chan error, 1)
		go func() {
			_, err := host.Read(make([]byte, 1))
			read <- err
		}()
		cancel()
		if err := <-read; !IsTimeout(err) {
			t.Fatalf("Read = %v, want a timeout", err)
		}
		stop() // a second stop is harmless
	})
	t.Run("stopped, cancel leaves the port alone", func(t *testing.T) {
		host, dev := pipe(t)
		ctx, cancel := context.WithCancel(context.Background())
		stop := WakeOnDone(ctx, host)
		stop()
		cancel()
		sent := send(dev, "x")
		b := make([]byte, 1)
		if n, err := host.Read(b); err != nil || string(b[:n]) != "x" {
			t.Fatalf("Read = %q, %v; want \"x\"", b[:n], err)
		}
		if err := <-sent; err != nil {
			t.Fatalf("write: %v", err)
		}
	})
}

// closedPipe reports the error a net.Pipe end gives once its peer closed.
func closedPipe(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}
