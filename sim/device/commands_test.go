package device

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCommandsAwait(t *testing.T) {
	var c Commands
	if n := c.Add("encode"); n != 1 {
		t.Fatalf("first Add = %d, want 1", n)
	}
	// Already arrived: at once, even with a context that has ended.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Await(done, "encode", 1); err != nil {
		t.Errorf("Await of an arrived command = %v, want nil", err)
	}
	// Not yet: blocks until the second arrives.
	got := make(chan error, 1)
	go func() { got <- c.Await(context.Background(), "encode", 2) }()
	select {
	case err := <-got:
		t.Fatalf("Await #2 returned %v before the command arrived", err)
	default:
	}
	c.Add("read") // another kind does not satisfy it
	c.Add("encode")
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("Await #2 = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Await #2 still blocked after the second encode arrived")
	}
	if c.Count("encode") != 2 || c.Count("read") != 1 || c.Count("cancel") != 0 {
		t.Errorf("counts = %d encode, %d read, %d cancel; want 2, 1, 0", c.Count("encode"), c.Count("read"), c.Count("cancel"))
	}
}

func TestCommandsAwaitEnds(t *testing.T) {
	var c Commands
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	err := c.Await(ctx, "cancel", 1)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "await cancel #1 (0 so far)") {
		t.Errorf("Await past its context = %v", err)
	}
	if err := c.Await(context.Background(), "teleport", 1); err == nil {
		t.Error("Await of an unknown command kind succeeded")
	}
}

// Answers are counted apart from commands: a command that arrived is not
// yet answered, and an answer awaits only answers.
func TestCommandsAnswers(t *testing.T) {
	var c Commands
	c.Add("encode")
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := c.AwaitAnswer(short, "encode", 1); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "await the answer to encode #1 (0 so far)") {
		t.Errorf("AwaitAnswer of an unanswered command = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.AwaitAnswer(context.Background(), "encode", 1) }()
	if n := c.Answered("encode"); n != 1 {
		t.Errorf("Answered = %d, want 1", n)
	}
	if err := <-done; err != nil {
		t.Errorf("AwaitAnswer after the answer = %v", err)
	}
	if c.Count("encode") != 1 {
		t.Errorf("an answer changed the command count to %d", c.Count("encode"))
	}
	if err := c.AwaitAnswer(context.Background(), "teleport", 1); err == nil {
		t.Error("AwaitAnswer of an unknown command kind succeeded")
	}
}
