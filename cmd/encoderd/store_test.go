package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/encoderlab/encoderlab/fixtures"
)

// The tests in this file run encoderd as a process on a SQLite store that
// is in use, emptied or cut short, and check that it refuses to start,
// saying why and what to do, instead of serving the store as a new one
// (docs/store.md).

// storeRig is a store file, an empty link directory (no encoder needs to
// answer) and the lab's first workspace.
type storeRig struct {
	db, links string
	ws        fixtures.Workspace
}

func newStoreRig(t *testing.T) *storeRig {
	t.Helper()
	if testing.Short() {
		t.Skip("runs encoderd as a process; skipped with -short")
	}
	links := filepath.Join(t.TempDir(), "links")
	if err := os.Mkdir(links, 0o755); err != nil {
		t.Fatal(err)
	}
	return &storeRig{db: filepath.Join(t.TempDir(), "encoderd.db"), links: links, ws: *fixtures.Bundled().Workspaces[0]}
}

func (r *storeRig) args(extra ...string) []string {
	return append([]string{"--db", r.db, "--links", r.links, "--scale", "0.1"}, extra...)
}

// start runs encoderd on the store and returns it with an API client.
func (r *storeRig) start(t *testing.T, log string, extra ...string) (*daemon, *apiClient) {
	t.Helper()
	d := startDaemon(t, log, r.args(extra...)...)
	return d, newAPIClient(t, d.url, r.ws.APIKeys[0])
}

// refused runs encoderd on the store and fails t unless it exits with
// exitFail before serving; it returns what it printed.
func (r *storeRig) refused(t *testing.T, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, encoderdBinary(t), append([]string{"--addr", "127.0.0.1:0"}, r.args(extra...)...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("encoderd %v did not exit within %v; want it to refuse the store:\n%s", extra, waitBound, out)
	case !errors.As(err, &exit) || exit.ExitCode() != exitFail:
		t.Fatalf("encoderd %v = %v, want exit status %d:\n%s", extra, err, exitFail, out)
	case strings.Contains(string(out), "encoderd serving the API"):
		t.Fatalf("encoderd %v served before it exited:\n%s", extra, out)
	}
	return string(out)
}

// credentialStatus asks for a credential and returns the HTTP status.
func credentialStatus(t *testing.T, api *apiClient, id string) int {
	t.Helper()
	status, out, err := api.call(context.Background(), "/acs/credentials/get", map[string]any{"acs_credential_id": id})
	if err != nil {
		t.Fatalf("credentials/get %s: %v (%v)", id, err, out)
	}
	return status
}

func wantMentions(t *testing.T, what, out string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(out, w) {
			t.Errorf("%s does not mention %q:\n%s", what, w, out)
		}
	}
}

// TestSecondInstanceRefused: a second encoderd on a SQLite file another
// one serves, without --shared, refuses to start and names --shared; so
// does one with --shared beside a server without it. The first goes on
// serving, its store unharmed.
func TestSecondInstanceRefused(t *testing.T) {
	r := newStoreRig(t)
	ctx := context.Background()
	_, api := r.start(t, "encoderd-first.log")
	cred, err := api.guestCredential(ctx)
	if err != nil {
		t.Fatal(err)
	}

	out := r.refused(t)
	wantMentions(t, "the second encoderd's refusal", out, r.db, "--shared", "in use")
	out = r.refused(t, "--shared")
	wantMentions(t, "a --shared encoderd's refusal beside one without it", out, r.db, "--shared")

	if got := credentialStatus(t, api, cred); got != http.StatusOK {
		t.Errorf("the first encoderd answers %d for its credential after the refused starts, want 200", got)
	}
	if _, err := api.guestCredential(ctx); err != nil {
		t.Errorf("the first encoderd cannot write after the refused starts: %v", err)
	}
}

// TestSharedRefusesUnshared: beside encoderd --shared, one without it is
// refused, and told to use --shared.
func TestSharedRefusesUnshared(t *testing.T) {
	r := newStoreRig(t)
	_, api := r.start(t, "encoderd-shared.log", "--shared")
	out := r.refused(t)
	wantMentions(t, "the refusal of an encoderd without --shared", out, r.db, "--shared")
	if _, err := api.guestCredential(context.Background()); err != nil {
		t.Errorf("the shared encoderd cannot write after the refused start: %v", err)
	}
}

// TestEmptiedStoreRefused: encoderd stopped cleanly, its database file
// truncated to 0 bytes: the next start refuses it, naming the file and
// --accept-store-reset, rather than answer 404 for every earlier
// credential; with --accept-store-reset it starts, on an empty store.
func TestEmptiedStoreRefused(t *testing.T) {
	r := newStoreRig(t)
	d, api := r.start(t, "encoderd-1.log")
	cred, err := api.guestCredential(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.signal(syscall.SIGTERM)
	if err, ok := d.wait(waitBound); !ok || err != nil {
		t.Fatalf("encoderd after SIGTERM: exited %v, %v; want a clean stop", ok, err)
	}
	if err := os.Truncate(r.db, 0); err != nil {
		t.Fatal(err)
	}
	out := r.refused(t)
	wantMentions(t, "the refusal of an emptied store", out, r.db, "empty", "--accept-store-reset")

	d, api = r.start(t, "encoderd-2.log", "--accept-store-reset")
	if got := credentialStatus(t, api, cred); got != http.StatusNotFound {
		t.Errorf("credentials/get on the reset store = %d, want 404 (the reset store is empty)", got)
	}
	if !strings.Contains(d.logTail(40), "store reset accepted") {
		t.Errorf("encoderd --accept-store-reset does not log what it accepted:\n%s", d.logTail(40))
	}
}

// TestLostWALRefused: encoderd killed (SIGKILL) with commits in its WAL;
// the WAL then removed with the -shm, or cut in half: the next start
// refuses the store. Untouched, the store restarts with the credential.
func TestLostWALRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		cut  func(db string) error
	}{
		{"untouched", nil},
		{"WAL and shm removed", func(db string) error {
			return errors.Join(os.Remove(db+"-wal"), os.Remove(db+"-shm"))
		}},
		{"WAL cut in half", func(db string) error {
			st, err := os.Stat(db + "-wal")
			if err != nil {
				return err
			}
			return os.Truncate(db+"-wal", st.Size()/2)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newStoreRig(t)
			d, api := r.start(t, "encoderd-1.log")
			cred, err := api.guestCredential(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			d.kill()
			if c.cut == nil {
				_, api = r.start(t, "encoderd-2.log")
				if got := credentialStatus(t, api, cred); got != http.StatusOK {
					t.Errorf("credentials/get after SIGKILL and restart = %d, want 200", got)
				}
				return
			}
			if err := c.cut(r.db); err != nil {
				t.Fatal(err)
			}
			out := r.refused(t)
			wantMentions(t, "the refusal of a store with its "+c.name, out, r.db+"-wal", "--accept-store-reset")
		})
	}
}
