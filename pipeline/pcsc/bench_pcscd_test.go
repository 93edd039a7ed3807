package pcsc_test

import (
	"context"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/pcsc"
)

// BenchmarkCardNoticed measures how long pcscd takes to report a card
// after it connects to vpcd: to WaitChange's wake-up, and to Readers
// listing it present (docs/protocols/acr122.md, Timing: the wait no time
// scale shortens). Each iteration takes the card away and waits until
// pcscd lists the reader empty again.
func BenchmarkCardNoticed(b *testing.B) {
	d := daemon(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := establish(ctx, b, d)
	var woke, listed time.Duration
	for b.Loop() {
		if _, err := c.Readers(ctx); err != nil {
			b.Fatal(err)
		}
		k := insert(ctx, b, d, false)
		placed := time.Now()
		if _, err := c.WaitChange(ctx, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		woke += time.Since(placed)
		await(ctx, b, c, d.Reader(), "the card", present)
		listed += time.Since(placed)
		k.remove()
		await(ctx, b, c, d.Reader(), "the empty reader", empty)
	}
	b.ReportMetric(float64(woke.Milliseconds())/float64(b.N), "ms-to-wake")
	b.ReportMetric(float64(listed.Milliseconds())/float64(b.N), "ms-to-list")
}

// BenchmarkPowerDown measures how long pcscd leaves a card powered after
// the last handle on it is let go, until vpcd sends the power-off
// control (docs/protocols/acr122.md, Encoding a card: a card lifted off
// meanwhile fails the next connect).
func BenchmarkPowerDown(b *testing.B) {
	d := daemon(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := establish(ctx, b, d)
	k := insert(ctx, b, d, false)
	await(ctx, b, c, d.Reader(), "the card", present)
	var off time.Duration
	for b.Loop() {
		h, err := c.Connect(ctx, d.Reader(), pcsc.ShareShared, pcsc.ProtocolAny)
		if err != nil {
			b.Fatal(err)
		}
		k.sawControl(0x00) // forget what came before
		if err := h.Disconnect(ctx, pcsc.LeaveCard); err != nil {
			b.Fatal(err)
		}
		left := time.Now()
		for !k.sawControl(0x00) {
			if time.Since(left) > 10*time.Second {
				b.Fatal("pcscd did not power the card off within 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		off += time.Since(left)
	}
	b.ReportMetric(float64(off.Milliseconds())/float64(b.N), "ms-to-power-off")
}
