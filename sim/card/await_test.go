package card_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
)

func TestAwaitWrites(t *testing.T) {
	c, err := card.New("blank", card.MifareClassic1K, "04A1B2C3", card.Contents{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.AwaitWrites(ctx, 0); err != nil {
		t.Fatalf("AwaitWrites(0) on a fresh card = %v, want nil at once", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.AwaitWrites(ctx, 2) }()
	c.Write(card.Contents{Kind: card.Guest})
	select {
	case err := <-done:
		t.Fatalf("AwaitWrites(2) returned %v after one write", err)
	case <-time.After(20 * time.Millisecond):
	}
	c.Write(card.Contents{Kind: card.Guest})
	if err := <-done; err != nil {
		t.Fatalf("AwaitWrites(2) after two writes = %v", err)
	}
	if err := c.AwaitWrites(ctx, 1); err != nil {
		t.Fatalf("AwaitWrites(1) once written twice = %v", err)
	}
	short, stop := context.WithCancel(context.Background())
	stop()
	if err := c.AwaitWrites(short, 3); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `card "blank"`) {
		t.Fatalf("AwaitWrites on a cancelled context = %v, want context.Canceled naming the card", err)
	}
}
