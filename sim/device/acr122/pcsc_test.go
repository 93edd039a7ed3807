package acr122_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/require"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/acr122"
)

// pcscTool runs one of Debian's PC/SC tools against the link's pcscd.
func pcscTool(ctx context.Context, t *testing.T, l *acr122.Link, name string, args ...string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		require.Missing(t, "%s is not installed: it is the independent PC/SC host of this test (Debian: apt-get install opensc pcsc-tools; make pcsc)", name)
	}
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Env = append(os.Environ(), "PCSCLITE_CSOCK_NAME="+l.Path())
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// TestDebianHosts serves the virtual reader through its own pcscd and
// drives it with OpenSC's opensc-tool and pcsc-tools' pcsc_scan, hosts
// written independently of this project: the reader is listed, the card's
// ATR and UID come back as the ACR122U API gives them, the API's key,
// authentication and read examples succeed on a blank card, and the
// reader is empty once the card is taken away.
func TestDebianHosts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := acr122.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := acr122.New(acr122.Config{})
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(sctx, l.Line()) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})

	if out := pcscTool(ctx, t, l, "pcsc_scan", "-r"); !strings.Contains(out, acr122.ReaderName) {
		t.Fatalf("pcsc_scan -r:\n%s\nwant the reader %q", out, acr122.ReaderName)
	}
	blank, err := card.New("blank", card.MifareClassic1K, "04A1B2C3", card.Contents{Kind: card.Blank})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Place(blank); err != nil {
		t.Fatal(err)
	}
	// pcscd notices a card at its next presence poll (every 400 ms):
	// ask until it has, bounded by ctx.
	var out string
	for ctx.Err() == nil {
		out = pcscTool(ctx, t, l, "opensc-tool", "-r", "0", "-a")
		if strings.Contains(out, "3b:8f") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// API 3.1.1: the ATR of a MIFARE 1K.
	if want := "3b:8f:80:01:80:4f:0c:a0:00:00:03:06:03:00:01:00:00:00:00:6a"; !strings.Contains(out, want) {
		t.Errorf("opensc-tool -a:\n%s\nwant %s", out, want)
	}
	out = pcscTool(ctx, t, l, "opensc-tool", "-r", "0",
		"-s", "FF CA 00 00 00",
		"-s", "FF 82 00 00 06 FF FF FF FF FF FF",
		"-s", "FF 86 00 00 05 01 00 04 60 00",
		"-s", "FF B0 00 04 10")
	for _, want := range []string{
		"04 A1 B2 C3", // the UID (API 4.1)
		"00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", // block 4 of a blank card
	} {
		if !strings.Contains(out, want) {
			t.Errorf("opensc-tool APDUs:\n%s\nwant %s", out, want)
		}
	}
	if n := strings.Count(out, "Received (SW1=0x90, SW2=0x00)"); n != 4 {
		t.Errorf("opensc-tool APDUs:\n%s\n%d answers 90 00, want 4", out, n)
	}

	if err := d.Remove("blank"); err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		out = pcscTool(ctx, t, l, "opensc-tool", "-r", "0", "-a")
		if !strings.Contains(out, "3b:8f") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ctx.Err() != nil || strings.Contains(out, "3b:8f") {
		t.Errorf("opensc-tool -a after the card left:\n%s\nwant no card (%v)", out, ctx.Err())
	}
}

// TestOpenUnderALongTMPDIR: pcscd's socket still fits a Unix socket
// address when TMPDIR is long, as a test's temporary directory is.
func TestOpenUnderALongTMPDIR(t *testing.T) {
	long := t.TempDir() + "/" + strings.Repeat("d", 80)
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", long)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := acr122.Open(ctx, nil)
	if err != nil {
		t.Fatalf("Open under a %d-byte TMPDIR: %v", len(long), err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
