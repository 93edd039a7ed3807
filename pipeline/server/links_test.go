package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
)

// nobody is the uid the hostile cases give files to.
const nobody = 65534

// TestRefusesLinksOthersControl: another user points front-desk-1 at a
// pty of their own, a virtual encoder that answers like the real one. The
// server must not send it the card data nor mark the credential issued on
// the card it reports: the encode fails saying what to fix.
func TestRefusesLinksOthersControl(t *testing.T) {
	sc, err := scenarios.Load("first-issue")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The "attacker's" encoder, published where they like.
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: t.TempDir(), Scale: 0.1})
	if err != nil {
		t.Fatalf("starting the virtual encoder: %v", err)
	}
	played := make(chan error, 1)
	go func() { played <- enc.Play(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-played
		enc.Close()
	})

	for _, tc := range []struct {
		name   string
		root   bool // needs root, to give files to another user
		spoil  func(t *testing.T, dir, link string)
		refuse string // the path the refusal names: "dir" or "link"
		want   string
	}{
		{"directory owned by another user", true, func(t *testing.T, dir, link string) {
			lchown(t, link)
			lchown(t, dir)
		}, "dir", "owned by uid 65534"},
		{"link owned by another user", true, func(t *testing.T, dir, link string) {
			lchown(t, link)
		}, "link", "owned by uid 65534"},
		{"directory writable by others", false, func(t *testing.T, dir, link string) {
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}, "dir", "writable by group or others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				t.Skip("giving files to another user (os.Lchown) takes root")
			}
			cfg := testConfig(t)
			cfg.Scale = 0.1
			cfg.LinkDir = filepath.Join(t.TempDir(), "links")
			if err := os.Mkdir(cfg.LinkDir, 0o700); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(cfg.LinkDir, "front-desk-1")
			if err := os.Symlink(enc.TTY(), link); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, cfg.LinkDir, link)
			refused := map[string]string{"dir": cfg.LinkDir, "link": link}[tc.refuse]

			srv := start(t, cfg)
			ws := fixtures.Bundled().Workspaces[0]
			c := &client{t: t, url: srv.URL(), token: ws.APIKeys[0]}
			cred := c.createCard(ws)
			credID := cred.ACSCredentialID
			a := c.waitAttempt(c.encode(credID, fixtures.EncoderID(ws.ID, "front-desk-1")).ActionAttemptID)
			if a.Status != seam.StatusError {
				t.Fatalf("encode through a links directory another user controls ended %s %+v, want an error", a.Status, a.Result)
			}
			for _, want := range []string{"refusing the links directory: " + refused, tc.want} {
				if !strings.Contains(a.Error.Message, want) {
					t.Errorf("error message %q should say %q", a.Error.Message, want)
				}
			}
			var got struct {
				Credential *seam.Credential `json:"acs_credential"`
			}
			if st := c.call("/acs/credentials/get", map[string]string{"acs_credential_id": credID}, &got); st != http.StatusOK {
				t.Fatalf("/acs/credentials/get: status %d", st)
			}
			if got.Credential.IsIssued != nil && *got.Credential.IsIssued {
				t.Errorf("the credential was marked issued on the other user's card %v", got.Credential.CardNumber)
			}
		})
	}
}

func lchown(t *testing.T, path string) {
	t.Helper()
	if err := os.Lchown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultLinkDirIsPerUser(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got, want := server.DefaultLinkDir(), "/run/user/1000/encoderlab"; got != want {
		t.Errorf("DefaultLinkDir() = %q, want %q", got, want)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", "/var/tmp")
	if got, want := server.DefaultLinkDir(), fmt.Sprintf("/var/tmp/encoderlab-%d", os.Geteuid()); got != want {
		t.Errorf("DefaultLinkDir() = %q, want %q", got, want)
	}
}
