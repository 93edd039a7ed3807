package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// TestReserveKeepsRoomForOutcomes: on a disk that another file fills,
// new attempts are refused (ErrUnavailable) but the outcomes of the
// attempts already accepted are all written, in the room the store kept
// aside; once the disk has room again, new work is taken and the reserve
// is set aside again.
func TestReserveKeepsRoomForOutcomes(t *testing.T) {
	dir := smallFS(t, "8m")
	path := filepath.Join(dir, "s.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, err := os.Stat(reservePath(path)); err != nil || st.Size() != ReserveSize {
		t.Fatalf("reserve file after Open: %v, %v; want %d bytes", st, err, ReserveSize)
	}

	// Accepted work: attempts whose outcomes are still to be written.
	ctx := context.Background()
	// 64 in flight: one per encoder of a large desk. Written one at a
	// time, about a hundred outcomes fit in the reserve.
	accepted, err := writeUntilRefused(t, s, 0, 64)
	if err != nil || len(accepted) != 64 {
		t.Fatalf("creating the accepted attempts: %d created, %v", len(accepted), err)
	}
	filler := fillDisk(t, dir)
	_, err = writeUntilRefused(t, s, 1000, 100000)
	wantUnavailable(t, "new attempts on a full disk", err)

	for i, id := range accepted {
		a, err := s.GetAttempt(ctx, "ws-a", id)
		if err != nil {
			t.Fatalf("reading accepted attempt %s: %v", id, err)
		}
		a.Status, a.FinishedAt = seam.StatusError, created0.Add(time.Hour)
		a.ErrorType, a.ErrorMessage = seam.ErrNoCredentialOnEncoder, "no card"
		if err := s.FinishAttempt(ctx, a, nil); err != nil {
			t.Fatalf("finishing accepted attempt %d of %d on the full disk: %v", i+1, len(accepted), err)
		}
	}
	if _, err := os.Stat(reservePath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reserve file after the disk filled: %v; want it given back", err)
	}
	_, err = writeUntilRefused(t, s, 200000, 1)
	wantUnavailable(t, "a new attempt while the reserve is spent", err)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := writeUntilRefused(t, s, 300000, 10); err != nil {
		t.Fatalf("new attempts once the disk has room: %v", err)
	}
	if st, err := os.Stat(reservePath(path)); err != nil || st.Size() != ReserveSize {
		t.Errorf("reserve file once the disk has room: %v, %v; want %d bytes again", st, err, ReserveSize)
	}
	for _, id := range accepted {
		if a, err := s.GetAttempt(ctx, "ws-a", id); err != nil || a.Status != seam.StatusError {
			t.Fatalf("accepted attempt %s after the full disk: %+v, %v; want its recorded error", id, a, err)
		}
	}
}
