package pgtest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/encoderlab/encoderlab/pipeline/store/postgres/pgtest"
)

// TestMain stops the shared server after the tests, then fails them if
// any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.WithShutdown(m)) }
