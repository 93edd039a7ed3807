package postgres

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/postgres/pgtest"

	"github.com/encoderlab/encoderlab/internal/require"
)

// TestSurvivesServerCrash: what the store acknowledged is there after the
// server stops without a checkpoint and recovers from its log, and an
// attempt still pending can be finished then, once.
func TestSurvivesServerCrash(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		// As root the server runs as the postgres user, who must reach dir.
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join(dir, "pg")
	srv, err := pgtest.Start(dir)
	if errors.Is(err, pgtest.ErrNotInstalled) {
		require.Missing(t, "%v; make postgres installs it", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	url, err := srv.NewDatabase(t.Context(), "encoderlab")
	if err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	done, pending := attempt("att-done", created), attempt("att-pending", created.Add(time.Second))
	cred := &seam.Credential{ACSCredentialID: "cred-1", WorkspaceID: "ws-a", DisplayName: "issued",
		CreatedAt: seam.At(created)}
	if err := s.PutCredential(ctx, &seam.Credential{ACSCredentialID: "cred-1", WorkspaceID: "ws-a", DisplayName: "made",
		CreatedAt: seam.At(created)}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*store.Attempt{done, pending} {
		if err := s.CreateAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	done.Status, done.FinishedAt, done.Result = seam.StatusSuccess, created.Add(time.Minute), cred
	if err := s.FinishAttempt(ctx, done, cred); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(ctx, "enc-1", "server-a", time.Hour); err != nil {
		t.Fatal(err)
	}
	s.Close()

	if err := srv.Crash(); err != nil {
		t.Fatalf("Crash() = %v", err)
	}
	srv, err = pgtest.Start(dir)
	if err != nil {
		t.Fatalf("Start after a crash = %v", err)
	}
	defer srv.Stop()
	s = open(t, url)
	if got, err := s.GetAttempt(ctx, "ws-a", "att-done"); err != nil || got.Status != seam.StatusSuccess || got.Result == nil {
		t.Errorf("GetAttempt(att-done) after a crash = %+v, %v; want it succeeded, with its result", got, err)
	}
	if got, err := s.GetCredential(ctx, "ws-a", "cred-1"); err != nil || got.DisplayName != "issued" {
		t.Errorf("GetCredential(cred-1) after a crash = %+v, %v; want the credential the Finish stored", got, err)
	}
	if p, err := s.PendingAttempts(ctx); err != nil || len(p) != 1 || p[0].ID != "att-pending" {
		t.Errorf("PendingAttempts() after a crash = %v, %v; want [att-pending]", p, err)
	}
	if _, err := s.AcquireLease(ctx, "enc-1", "server-b", time.Hour); err == nil {
		t.Errorf("AcquireLease(enc-1, server-b) after a crash = nil error, want server-a's lease still held")
	}
	expired := *pending
	expired.Status, expired.FinishedAt, expired.ErrorType = seam.StatusError, created.Add(time.Hour), seam.ErrActionAttemptExpired
	if err := s.FinishAttempt(ctx, &expired, nil); err != nil {
		t.Errorf("FinishAttempt(att-pending) after a crash = %v, want nil", err)
	}
}
