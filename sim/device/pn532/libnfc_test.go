package pn532_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/require"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pn532"
	"github.com/encoderlab/encoderlab/sim/pty"
)

// libnfcTimeout bounds one libnfc tool run; a tool that hangs fails the
// test instead of the whole run.
const libnfcTimeout = 60 * time.Second

// needTool returns the path of a libnfc tool; without it the test skips,
// or fails where every check must run (internal/require).
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		require.Missing(t, "%s not found: make libnfc installs it (Debian packages libnfc-bin, libnfc-examples)", name)
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

// libnfcCommand is a libnfc tool run in dir against the chip on tty,
// with libnfc's debug log on standard error.
func libnfcCommand(ctx context.Context, dir, tty, tool string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LIBNFC_DEVICE=pn532_uart:"+tty, "LIBNFC_AUTO_SCAN=false", "LIBNFC_LOG_LEVEL=3")
	return cmd
}

// blankOnReader serves a chip with a blank MIFARE Classic 1K of that UID
// in its field and returns the device and the tty a client opens.
func blankOnReader(t *testing.T, uid string) (*pn532.Device, string) {
	t.Helper()
	d := pn532.New(pn532.DefaultConfig())
	if err := d.Place(mustCard(t, "blank", card.MifareClassic1K, uid, card.Contents{})); err != nil {
		t.Fatal(err)
	}
	return d, servePTY(t, d)
}

// runLibnfc runs a libnfc tool against tty in dir and returns its output.
func runLibnfc(t *testing.T, dir, tty, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), libnfcTimeout)
	defer cancel()
	cmd := libnfcCommand(ctx, dir, tty, tool, args...)
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

// uidSizes are the three UID lengths of ISO/IEC 14443-3 (single, double
// and triple size, 6.4.4), each on a MIFARE Classic 1K. libnfc selects a
// card again with the cascade tag 0x88 before each cascade level but the
// last, as UM0701-02 7.3.5 has the host do; the virtual chip must accept
// that form, which only the 7- and 10-byte cards exercise.
var uidSizes = []struct {
	name, uid string
	listed    string // as nfc-list prints it
	atqa      string // SENS_RES, as nfc-list prints it: the UID size in bits 7–8
}{
	{"single", "DEADBEEF", "de  ad  be  ef", "00  04"},
	{"double", "04A1B2C3D4E5F6", "04  a1  b2  c3  d4  e5  f6", "00  44"},
	{"triple", "04A1B2C3D4E5F6071829", "04  a1  b2  c3  d4  e5  f6  07  18  29", "00  84"},
}

func TestLibnfcListFindsTheCard(t *testing.T) {
	tool := needTool(t, "nfc-list")
	for _, u := range uidSizes {
		t.Run(u.name, func(t *testing.T) {
			_, tty := blankOnReader(t, u.uid)
			out := runLibnfc(t, t.TempDir(), tty, tool)
			if !strings.Contains(out, "UID (NFCID1): "+u.listed) {
				t.Errorf("nfc-list did not report the card's UID %s:\n%s", u.listed, out)
			}
			if !strings.Contains(out, "ATQA (SENS_RES): "+u.atqa) || !strings.Contains(out, "SAK (SEL_RES): 08") {
				t.Errorf("nfc-list did not report ATQA %s, SAK 08:\n%s", u.atqa, out)
			}
		})
	}
}

// TestLibnfcPollSeesTheCardUntilRemoved runs nfc-poll, which selects the
// card and then checks it is still there by selecting it again by UID
// (cascaded) until that fails: the card must stay present while it lies
// on the reader and be gone once removed.
func TestLibnfcPollSeesTheCardUntilRemoved(t *testing.T) {
	tool := needTool(t, "nfc-poll")
	for _, u := range uidSizes {
		t.Run(u.name, func(t *testing.T) {
			d, tty := blankOnReader(t, u.uid)
			ctx, cancel := context.WithTimeout(context.Background(), libnfcTimeout)
			defer cancel()
			cmd := libnfcCommand(ctx, t.TempDir(), tty, tool)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// nfc-poll prints "Waiting for card removing..." without a line
			// end before its presence checks, and "done." after them.
			out := &watchedOutput{marker: "Waiting for card removing", seen: make(chan struct{})}
			copied := make(chan struct{})
			go func() {
				defer close(copied)
				_, _ = io.Copy(out, stdout)
			}()
			select {
			case <-out.seen:
			case <-copied:
				t.Fatalf("nfc-poll ended before it waited for the card to go:\n%s\n%s", out, stderr.String())
			}
			if !strings.Contains(out.String(), "UID (NFCID1): "+u.listed) {
				t.Fatalf("nfc-poll did not report the card's UID %s:\n%s\n%s", u.listed, out, stderr.String())
			}
			// Each presence check is one selection by UID, and nfc-poll
			// stops at the first that fails: three more selections mean
			// at least two checks found the card still there.
			checks, stop := context.WithCancel(ctx)
			defer stop()
			go func() {
				<-copied // nfc-poll ended: no more checks come
				stop()
			}()
			if err := d.Await(checks, "read", d.Count("read")+3); err != nil {
				t.Fatalf("nfc-poll stopped checking for the card while it lay on the reader: %v\n%s\n%s", err, out, stderr.String())
			}
			if err := d.Remove("blank"); err != nil {
				t.Fatal(err)
			}
			<-copied
			if err := cmd.Wait(); err != nil {
				t.Fatalf("nfc-poll: %v\n%s\n%s", err, out, stderr.String())
			}
			if !strings.Contains(out.String(), "done.") {
				t.Errorf("nfc-poll did not report the card removed:\n%s", out)
			}
		})
	}
}

// TestLibnfcMfclassicTriesTheNextKey reads a card one of whose sectors
// opens only with the second of nfc-mfclassic's default keys: after the
// first key is refused the card halts, and nfc-mfclassic selects it again
// by UID (cascaded) before it tries the next key.
func TestLibnfcMfclassicTriesTheNextKey(t *testing.T) {
	tool := needTool(t, "nfc-mfclassic")
	// The MIFARE Application Directory's key A, second in libnfc's list.
	madKey := card.Key{0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5}
	for _, u := range uidSizes {
		t.Run(u.name, func(t *testing.T) {
			d := pn532.New(pn532.DefaultConfig())
			blank := mustCard(t, "blank", card.MifareClassic1K, u.uid, card.Contents{})
			mem, err := d.ClassicMemory(blank)
			if err != nil {
				t.Fatal(err)
			}
			const sector = 2
			data := card.Block{0x5E, 0xC7, 0x02}
			if err := mem.SetRaw(8, data); err != nil {
				t.Fatal(err)
			}
			transport := card.Key{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
			// Transport access conditions, key A changed.
			if err := mem.SetRaw(11, card.Trailer(madKey, card.AccessBits([4]byte{0, 0, 0, 1}), 0x69, transport)); err != nil {
				t.Fatal(err)
			}
			if err := d.Place(blank); err != nil {
				t.Fatal(err)
			}
			tty := servePTY(t, d)
			dir := t.TempDir()
			runLibnfc(t, dir, tty, tool, "r", "a", "u", "dump.mfd")
			got, err := os.ReadFile(filepath.Join(dir, "dump.mfd"))
			if err != nil {
				t.Fatal(err)
			}
			want := mem.Dump()
			if len(got) != len(want) {
				t.Fatalf("dump is %d bytes, want %d", len(got), len(want))
			}
			for b := 0; b < len(want)/card.BlockSize; b++ {
				if card.IsTrailer(b) {
					// A trailer's key A never reads back; nfc-mfclassic puts
					// in the key that opened the sector.
					continue
				}
				g, w := got[b*16:b*16+16], want[b*16:b*16+16]
				if !bytes.Equal(g, w) {
					t.Errorf("block %d: got % X, want % X", b, g, w)
				}
			}
			if g := got[11*16 : 11*16+6]; !bytes.Equal(g, madKey[:]) {
				t.Errorf("sector %d opened with key % X, want % X", sector, g, madKey)
			}
		})
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

// watchedOutput collects a program's output and closes seen once it
// holds marker, whether or not a line end follows.
type watchedOutput struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	closed bool
}

func (w *watchedOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.closed && strings.Contains(w.buf.String(), w.marker) {
		w.closed = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchedOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
