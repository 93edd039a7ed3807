package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/encoderlab/encoderlab/internal/require"
	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// chromium finds Debian's chromium (or $ENCODERLAB_CHROMIUM).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ENCODERLAB_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	require.Missing(t, "chromium not found: run make chromium (Debian: apt-get install chromium), or set ENCODERLAB_CHROMIUM to a Chrome or Chromium binary")
	return ""
}

// successGreen is the colour of a "success" status on the page (lab.css
// .status-success).
var successGreen = [3]int{0x1d, 0x7a, 0x3a}

// TestLabPageInABrowser: in a real browser, the /lab page lists the
// encoders; pressing "place card" on front-desk-1 puts a blank card on
// its reader; an encode through the API shows up as an attempt that
// reaches success with that card's UID, the card turns into a guest card
// and the line shows the CN frame. The screenshot is a real picture of
// that page: a PNG of the window's size with the success green in it.
// ENCODERLAB_LAB_SCREENSHOT=FILE keeps it.
func TestLabPageInABrowser(t *testing.T) {
	exe := chromium(t)
	l := startLab(t, nil)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // root in CI containers
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()

	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(browser, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(browser, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	const desk = `#enc-front-desk-1`
	do("opening /lab", chromedp.Navigate(l.UIURL()+"/lab"), chromedp.WaitVisible(desk+` .cards li.empty`))

	names, err := chromedp.Run(browser, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#encoders .encoder .name')].map(e => e.textContent)`))
	if err != nil {
		t.Fatalf("reading the encoders' names: %v", err)
	}
	if got, want := strings.Join(names, " "), "front-desk-1 front-desk-2 station-desk nfc-desk-1 nfc-station-desk pcsc-desk-1 pcsc-station-desk"; got != want {
		t.Errorf("the page lists the encoders %q, want %q", got, want)
	}

	do("pressing place card", chromedp.Click(desk+` button[data-action=place]`), chromedp.WaitVisible(desk+` .cards li.kind-blank`))
	on := encoderState(t, state(t, l), "front-desk-1").Cards
	if len(on) != 1 || on[0].Kind != "blank" {
		t.Fatalf("after pressing place card, front-desk-1 holds %+v, want one blank card", on)
	}
	uid := on[0].UID

	a := encode(t, l, "front-desk-1")
	wantOutcome(t, "front-desk-1", a, seam.StatusSuccess, "")
	row := fmt.Sprintf(`#att-%s[data-status=success]`, a.ActionAttemptID)
	do("seeing the attempt succeed", chromedp.WaitVisible(row), chromedp.WaitVisible(desk+` .cards li.kind-guest`))
	outcome, status := text(row+` .outcome`), text(row+` .status`)
	cardText, lineText := text(desk+` .cards`), text(desk+` .events`)
	if status != "success" || !strings.Contains(outcome, uid) {
		t.Errorf("the attempt's row says %q, %q; want success with card %s", status, outcome, uid)
	}
	if !strings.Contains(cardText, uid) || !strings.Contains(cardText, "guest") || !strings.Contains(cardText, "written 1×") {
		t.Errorf("front-desk-1's reader on the page says %q, want card %s, a guest card written once", cardText, uid)
	}
	if !strings.Contains(lineText, "CN") {
		t.Errorf("front-desk-1's line on the page shows no CN frame:\n%s", lineText)
	}

	shot, err := chromedp.Run(browser, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("taking a screenshot: %v", err)
	}
	keep := os.Getenv("ENCODERLAB_LAB_SCREENSHOT")
	if keep == "" {
		keep = filepath.Join(t.TempDir(), "lab.png")
	}
	if err := os.WriteFile(keep, shot, 0o644); err != nil {
		t.Error(err)
	}
	checkScreenshot(t, shot)
}

// checkScreenshot decodes a PNG of the lab page: it must be the window's
// size (at least 1000×700), not one flat colour, and show the success
// green of the attempt's status.
func checkScreenshot(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the screenshot (%d bytes) is not a PNG: %v", len(b), err)
	}
	r := img.Bounds()
	if r.Dx() < 1000 || r.Dy() < 700 {
		t.Errorf("the screenshot is %d×%d, want at least 1000×700", r.Dx(), r.Dy())
	}
	colours := map[[3]uint32]bool{}
	green := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := rgb(img, x, y)
			if len(colours) < 1000 {
				colours[c] = true
			}
			if near(c, successGreen, 24) {
				green++
			}
		}
	}
	if len(colours) < 50 {
		t.Errorf("the screenshot has %d colours, want a drawn page", len(colours))
	}
	if green < 20 {
		t.Errorf("the screenshot has %d pixels of the success green #1d7a3a, want the attempt's status drawn", green)
	}
}

func rgb(img image.Image, x, y int) [3]uint32 {
	r, g, b, _ := img.At(x, y).RGBA()
	return [3]uint32{r >> 8, g >> 8, b >> 8}
}

func near(c [3]uint32, want [3]int, tol int) bool {
	for i := range 3 {
		if d := int(c[i]) - want[i]; d < -tol || d > tol {
			return false
		}
	}
	return true
}
