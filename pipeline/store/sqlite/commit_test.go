package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// TestGroupCommitKeepsWritesApart: writes that share a transaction still
// succeed or fail on their own. Many goroutines create attempts at once,
// every id twice: exactly one of each pair is acknowledged, the other gets
// ErrExists, and after the store is closed and opened again every
// acknowledged attempt is there and nothing else.
func TestGroupCommitKeepsWritesApart(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	const ids, writers = 200, 16
	base := time.Now()
	var acked, refused atomic.Int64
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w % 2; i < 2*ids; i += 2 {
				// Writers w and w+1 race on the same ids.
				id := fmt.Sprintf("att-%d", i/2+ids*(w/2))
				err := s.CreateAttempt(ctx, attempt(id, base))
				switch {
				case err == nil:
					acked.Add(1)
				case errors.Is(err, store.ErrExists):
					refused.Add(1)
				default:
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CreateAttempt: %v", err)
	}
	want := int64(ids * writers / 2)
	if acked.Load() != want || refused.Load() != want {
		t.Fatalf("%d acknowledged, %d refused as existing; want %d and %d", acked.Load(), refused.Load(), want, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	pending, err := again.PendingAttempts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(pending)) != want {
		t.Errorf("after reopening, %d attempts; want the %d acknowledged", len(pending), want)
	}
}

// TestWriteAfterClose: a write to a closed store is refused, not lost in a
// queue nobody reads.
func TestWriteAfterClose(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err := s.CreateAttempt(context.Background(), attempt("late", time.Now()))
	if err == nil {
		t.Fatal("CreateAttempt on a closed store succeeded")
	}
}

// BenchmarkFinishAttemptParallel is BenchmarkFinishAttempt from many
// goroutines at once, as a busy server calls it: group commit shares one
// durable transaction among the writes that arrive together.
func BenchmarkFinishAttemptParallel(b *testing.B) {
	s, _ := openTemp(b)
	ctx := context.Background()
	base := time.Now()
	cred := &seam.Credential{ACSCredentialID: "cred-1", WorkspaceID: "ws-a", ACSSystemID: "sys-1",
		AccessMethod: seam.AccessCard, CreatedAt: seam.At(base), Errors: []seam.CredentialError{},
		Warnings: []seam.CredentialWarning{}}
	if err := s.PutCredential(ctx, cred); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			a := attempt(fmt.Sprintf("att-%d", i), base.Add(time.Duration(i)))
			if err := s.CreateAttempt(ctx, a); err != nil {
				b.Error(err)
				return
			}
			a.Status, a.FinishedAt, a.Result = seam.StatusSuccess, time.Now(), cred
			if err := s.FinishAttempt(ctx, a, cred); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
