package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// Benchmark measures a store's write paths on stores made by open, one
// sub-benchmark each on a fresh store: FinishAttempt is a CreateAttempt
// and a successful FinishAttempt carrying a credential per op, each its
// own transaction; AcquireLease is one renewal of a held lease. open must
// return an empty store or fail b; Benchmark closes it.
func Benchmark(b *testing.B, open func(b *testing.B) store.Store) {
	b.Helper()
	b.Run("FinishAttempt", func(b *testing.B) { benchFinishAttempt(b, openForBench(b, open)) })
	b.Run("AcquireLease", func(b *testing.B) { benchAcquireLease(b, openForBench(b, open)) })
}

// openForBench opens a store and closes it when b ends.
func openForBench(b *testing.B, open func(b *testing.B) store.Store) store.Store {
	b.Helper()
	s := open(b)
	if s == nil {
		b.Fatal("open returned a nil store")
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Errorf("Close() = %v, want nil", err)
		}
	})
	return s
}

func benchFinishAttempt(b *testing.B, s store.Store) {
	ctx := context.Background()
	start := time.Now()
	cred := newCredential("ws-a", "cred-1", "sys-1", "", start)
	i := 0
	for b.Loop() {
		a := newAttempt("ws-a", fmt.Sprintf("att-%d", i), "enc-1", "cred-1", start.Add(time.Duration(i)))
		i++
		if err := s.CreateAttempt(ctx, a); err != nil {
			b.Fatal(err)
		}
		a.Status, a.FinishedAt, a.Result = seam.StatusSuccess, time.Now(), cred
		if err := s.FinishAttempt(ctx, a, cred); err != nil {
			b.Fatal(err)
		}
	}
}

func benchAcquireLease(b *testing.B, s store.Store) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.AcquireLease(ctx, "enc-1", "server-a", time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
