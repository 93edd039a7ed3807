package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	pmsdriver "github.com/encoderlab/encoderlab/pipeline/driver/pms"
	pmsdevice "github.com/encoderlab/encoderlab/sim/device/pms"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/timescale"
)

// TestUpPrintsWhatAClientNeeds: encoderlab up prints the API's URL, the
// page's, the test key, every encoder's id, the systems' and users' ids,
// ready curl lines and an SDK snippet, and stops cleanly when its
// context ends.
func TestUpPrintsWhatAClientNeeds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	var lab *Lab
	code := run(ctx, []string{"up", "--addr", "127.0.0.1:0", "--ui", "127.0.0.1:0", "--scale", "0.1",
		"--play", "front-desk-2=empty-reader"}, &stdout, &stderr, func(l *Lab) {
		lab = l
		cancel()
	})
	if code != exitOK {
		t.Fatalf("encoderlab up exited %d: %s", code, stderr.String())
	}
	out := stdout.String()
	ws := fixtures.Bundled().Workspaces[0]
	want := []string{
		"encode API  " + lab.APIURL(), "lab page    " + lab.UIURL() + "/lab", "time scale 0.1, attempt deadline 3s",
		ws.APIKeys[0], ws.ID, "plays empty-reader",
		"/acs/credentials/create", "/acs/encoders/encode_credential", "/action_attempts/get",
		"/lab/api/encoders/front-desk-1/place", "new SeamHttp({ apiKey: '" + ws.APIKeys[0] + "', endpoint: '" + lab.APIURL() + "' })",
	}
	for _, e := range ws.Encoders {
		want = append(want, e.DisplayName, e.ID)
	}
	for _, sys := range ws.Systems {
		want = append(want, sys.ID)
		for _, u := range sys.Users {
			want = append(want, u.ID)
		}
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("the banner does not say %q:\n%s", w, out)
		}
	}
}

// TestUpUsage: --help documents the control API; a bad command line is
// refused with exit status 2 and says what is wrong.
func TestUpUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"up", "--help"}, &stdout, &stderr, nil); code != exitOK {
		t.Errorf("up --help exited %d", code)
	}
	for _, w := range []string{"/lab/api/encoders/NAME/place", "stack", "swap", "remove", "unplug", "behave", "busy", "silent", "--play"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("up --help does not mention %q on stdout", w)
		}
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"up", "--play", "front-desk-1"}, "want NAME=SCENARIO"},
		{[]string{"up", "--play", "a=x", "--play", "a=y"}, "already plays x"},
		{[]string{"up", "--scale", "0"}, "--scale 0"},
		{[]string{"up", "extra"}, `unexpected argument "extra"`},
		{[]string{"down"}, `unknown command "down"`},
	} {
		stderr.Reset()
		if code := run(context.Background(), tc.args, &stdout, &stderr, nil); code != exitUsage || !strings.Contains(stderr.String(), tc.says) {
			t.Errorf("%v: exit %d, %q; want %d saying %q", tc.args, code, stderr.String(), exitUsage, tc.says)
		}
	}
}

// unrunnable is a device model whose line this machine cannot open, as a
// PC/SC reader's cannot without pcscd or root (model.ErrUnavailable).
var unrunnable = model.Model{
	Name: "unrunnable",
	New:  pmsdevice.Model.New,
	Transport: func(context.Context, model.Settings) (model.Link, error) {
		return nil, fmt.Errorf("the test's reader daemon is not installed: %w", model.ErrUnavailable)
	},
}

func init() {
	model.Register(unrunnable)
	driver.Register(unrunnable.Name, func(s timescale.Scale) driver.Driver { return pmsdriver.New(pmsdriver.DefaultTiming().Scaled(s)) })
}

// TestUpGoesOnWithoutAnEncoderTheMachineCannotRun: a lab encoder whose
// virtual device cannot run here is left out, with why, and the rest of
// the lab comes up.
func TestUpGoesOnWithoutAnEncoderTheMachineCannotRun(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "driver: acr122", "driver: unrunnable", 1)
	if text == string(src) {
		t.Fatal("the bundled lab has no acr122 encoder to stand in for")
	}
	labFile := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(labFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"up", "--addr", "127.0.0.1:0", "--ui", "127.0.0.1:0", "--lab", labFile,
		"--links", filepath.Join(t.TempDir(), "links"), "--db", filepath.Join(t.TempDir(), "lab.db")},
		&stdout, &stderr, func(*Lab) { cancel() })
	if code != exitOK {
		t.Fatalf("encoderlab up exited %d: %s", code, stderr.String())
	}
	var unrun, desks int
	for _, l := range strings.Split(stdout.String(), "\n") {
		switch f := strings.Fields(l); {
		case len(f) > 2 && f[2] == "unrunnable":
			unrun++
			if !strings.Contains(l, "not started:") || !strings.Contains(l, "not installed") {
				t.Errorf("the banner does not say why %s did not start: %q", f[0], l)
			}
		case len(f) > 2 && (f[2] == "pms" || f[2] == "pn532") && strings.HasSuffix(l, "desk"):
			desks++
		}
	}
	if unrun != 1 || desks != 5 {
		t.Errorf("banner: %d encoders left out, %d desks; want 1 and 5:\n%s", unrun, desks, stdout.String())
	}
}
