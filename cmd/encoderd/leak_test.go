package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/encoderlab/encoderlab/pipeline/store/postgres/pgtest"
)

// TestMain fails the package's tests if any goroutine outlives them, and
// removes what the process tests left: the encoderd binary, and the
// PostgreSQL server the scale-out test started.
func TestMain(m *testing.M) {
	code := pgtest.WithShutdown(m).Run()
	removeBinary()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
