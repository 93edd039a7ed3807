package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/sqlite"
)

// An attempt created before a restart is found again by PendingAttempts,
// and it can be finished only once.
func Example() {
	dir, err := os.MkdirTemp("", "encoderlab")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "store.db")
	ctx := context.Background()

	s, err := sqlite.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	err = s.CreateAttempt(ctx, &store.Attempt{
		ID: "att-1", WorkspaceID: "ws-1", EncoderID: "enc-1", CredentialID: "cred-1",
		Status: seam.StatusPending, CreatedAt: created, Deadline: created.Add(time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}
	s.Close()

	s, err = sqlite.Open(path) // as after a restart
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	pending, err := s.PendingAttempts(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range pending {
		a.Status, a.FinishedAt = seam.StatusError, created.Add(time.Minute)
		a.ErrorType, a.ErrorMessage = seam.ErrActionAttemptExpired, "expired during restart"
		fmt.Println("expire", a.ID, s.FinishAttempt(ctx, a, nil))
		err := s.FinishAttempt(ctx, a, nil)
		fmt.Println("again:", errors.Is(err, store.ErrNotPending))
	}
	// Output:
	// expire att-1 <nil>
	// again: true
}
