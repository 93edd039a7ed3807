package pn532_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pn532"
	"github.com/encoderlab/encoderlab/sim/pty"
)

// libnfcTimeout bounds one libnfc tool run; a tool that hangs fails the
// test instead of the whole run.
const libnfcTimeout = 60 * time.Second

// needTool skips the test when a libnfc tool is not installed.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found: run make libnfc (Debian packages libnfc-bin, libnfc-examples)", name)
	}
	return path
}

// servePTY serves d on a fresh pty until the test ends and returns the
// tty a client opens.
func servePTY(t *testing.T, d *pn532.Device) string {
	t.Helper()
	pair, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, pair.Master()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := pair.Close(); err != nil {
			t.Errorf("close pty: %v", err)
		}
	})
	return pair.TTY()
}

// runLibnfc runs a libnfc tool against tty in dir and returns its output.
func runLibnfc(t *testing.T, dir, tty, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), libnfcTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LIBNFC_DEVICE=pn532_uart:"+tty, "LIBNFC_AUTO_SCAN=false", "LIBNFC_LOG_LEVEL=3")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr (libnfc log):\n%s", filepath.Base(tool), strings.Join(args, " "), err, out.String(), stderr.String())
	}
	t.Logf("%s: %s", filepath.Base(tool), out.String())
	return out.String()
}

func mustCard(t *testing.T, name string, tech card.Technology, uid string, c card.Contents) *card.Card {
	t.Helper()
	k, err := card.New(name, tech, uid, c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLibnfcListFindsTheCard(t *testing.T) {
	tool := needTool(t, "nfc-list")
	d := pn532.New(pn532.DefaultConfig())
	if err := d.Place(mustCard(t, "blank", card.MifareClassic1K, "DEADBEEF", card.Contents{})); err != nil {
		t.Fatal(err)
	}
	tty := servePTY(t, d)
	out := runLibnfc(t, t.TempDir(), tty, tool)
	if !strings.Contains(out, "de  ad  be  ef") {
		t.Errorf("nfc-list did not report the card's UID de ad be ef:\n%s", out)
	}
	if !strings.Contains(out, "00  04") || !strings.Contains(out, "SAK (SEL_RES): 08") {
		t.Errorf("nfc-list did not report ATQA 00 04, SAK 08:\n%s", out)
	}
}

func TestLibnfcMfclassicReadsTheCard(t *testing.T) {
	tool := needTool(t, "nfc-mfclassic")
	d := pn532.New(pn532.DefaultConfig())
	guest := mustCard(t, "guest", card.MifareClassic1K, "04A1B2C3", card.Contents{
		Kind: card.Guest, CardID: "9F2C4D1A00000001", Function: "G",
		ValidFrom: "202611251400", ValidUntil: "202611281100", Label: "Room 101",
	})
	mem, err := d.ClassicMemory(guest)
	if err != nil {
		t.Fatal(err)
	}
	// Something recognisable in another sector, under the transport keys.
	if err := mem.SetRaw(9, card.Block{0x11, 0x22, 0x33, 0x44}); err != nil {
		t.Fatal(err)
	}
	if err := d.Place(guest); err != nil {
		t.Fatal(err)
	}
	tty := servePTY(t, d)

	dir := t.TempDir()
	want := mem.Dump()
	// The keys file is a dump whose trailers hold each sector's keys.
	if err := os.WriteFile(filepath.Join(dir, "keys.mfd"), want, 0o600); err != nil {
		t.Fatal(err)
	}
	runLibnfc(t, dir, tty, tool, "r", "a", "u", "dump.mfd", "keys.mfd")
	got, err := os.ReadFile(filepath.Join(dir, "dump.mfd"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("dump is %d bytes, want %d", len(got), len(want))
	}
	for b := 0; b < len(want)/card.BlockSize; b++ {
		g, w := got[b*16:b*16+16], want[b*16:b*16+16]
		if !bytes.Equal(g, w) {
			t.Errorf("block %d: got % X, want % X", b, g, w)
		}
	}
	if n := d.Count("read"); n == 0 {
		t.Error("no read command counted")
	}
	if c := guest.Contents(); c.Writes != 0 {
		t.Errorf("reading the card wrote it %d times", c.Writes)
	}
}
