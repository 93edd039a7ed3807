package acr122_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/pcsc"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/acr122"
)

// BenchmarkTransmit measures one get-UID round trip from a PC/SC host
// (the pipeline's pcsc client, as a host only: it shares no code with the
// device) through the reader's own pcscd and vpcd to the virtual reader
// and back.
func BenchmarkTransmit(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := acr122.Open(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	d := acr122.New(acr122.Config{})
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(sctx, l.Line()) }()
	defer func() { stop(); <-served }()
	c, err := card.New("blank", card.MifareClassic1K, "04A1B2C3", card.Contents{Kind: card.Blank})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Place(c); err != nil {
		b.Fatal(err)
	}
	conn, err := net.Dial("unix", l.Path())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	pc, err := pcsc.Establish(ctx, conn.(*net.UnixConn))
	if err != nil {
		b.Fatal(err)
	}
	var k *pcsc.Card
	for k == nil {
		if ctx.Err() != nil {
			b.Fatal("the card never showed in the reader")
		}
		if _, err := pc.WaitChange(ctx, time.Second); err != nil {
			b.Fatal(err)
		}
		rs, err := pc.Readers(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) > 0 && rs[0].Present() {
			k, _ = pc.Connect(ctx, rs[0].Name, pcsc.ShareShared, pcsc.ProtocolAny)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.Transmit(ctx, []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}); err != nil {
			b.Fatal(err)
		}
	}
}
