// Package pcscdtest starts private pcscds (internal/pcscd) for tests:
// one call, stopped at the test's end, a daemon that exits badly or
// cannot be stopped reported as the test's error.
package pcscdtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/pcscd"
)

// Start runs a pcscd with opts for t, and stops it when t ends. With no
// opts.Dir it makes a short one under /tmp (removed at the end): the
// daemon's socket path must fit a Unix socket address, which a test's
// own TempDir, under a long TMPDIR, may not. A machine without pcscd or
// vpcd fails t (pcscd.ErrMissing says what to install): a test that
// needs the real daemon has no other check.
func Start(t testing.TB, opts pcscd.Options) *pcscd.Daemon {
	t.Helper()
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("/tmp", "pcscd-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		opts.Dir = dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := pcscd.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}
