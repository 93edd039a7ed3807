package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// Interrupts. SIGINT (Ctrl-C) or SIGTERM stops a run: the processes
// running parts of it are asked to stop with the same signal, Ginkgo
// in each aborts the spec at hand and runs every cleanup (the virtual
// encoders, the pipelines, their temporary directories) and writes its
// report of what ran; the parent then writes the partial summary and
// reports, saying the run was interrupted, removes its own temporary
// directory and exits 128 + the signal's number: 130 after SIGINT, 143
// after SIGTERM.
//
// The parts run in a process group of their own, so Ctrl-C on the
// terminal reaches only the parent, which passes it on once: Ginkgo
// takes a second signal as "skip the cleanup and only report". A
// hardware run keeps its part in the terminal's group, since the
// operator answers its prompts there; Ctrl-C reaches it directly, and
// the parent passes on only SIGTERM.

// interrupted is the cause of the run's context when a signal stopped it.
type interrupted struct{ sig syscall.Signal }

func (i interrupted) Error() string { return "interrupted (" + signalName(i.sig) + ")" }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// notifySignals returns a context cancelled, with cause interrupted, by
// the first SIGINT or SIGTERM, and the function that stops listening.
func notifySignals() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			sig, _ := s.(syscall.Signal)
			cancel(interrupted{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interruption returns the signal that stopped ctx, if one did.
func interruption(ctx context.Context) (interrupted, bool) {
	var i interrupted
	ok := errors.As(context.Cause(ctx), &i)
	return i, ok
}

// exitInterrupted is the exit status after signal sig.
func exitInterrupted(i interrupted) int { return 128 + int(i.sig) }

// stopOnInterrupt makes cmd, started with ctx, stop the way an
// interrupted run stops: on the signal, not killed. Its process gets a
// group of its own unless it shares the terminal (hardware).
func stopOnInterrupt(ctx context.Context, cmd *exec.Cmd, sharesTerminal bool) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !sharesTerminal}
	cmd.Cancel = func() error {
		sig := syscall.SIGINT
		if i, ok := interruption(ctx); ok {
			sig = i.sig
		}
		if sharesTerminal && sig == syscall.SIGINT {
			return nil // the terminal sent it to the whole group
		}
		return cmd.Process.Signal(sig)
	}
}
