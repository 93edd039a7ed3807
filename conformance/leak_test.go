package conformance_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// recording, virtual encoder and in-process server the suite starts must
// be gone when it ends.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		// The suite's API clients keep connections alive between calls, as
		// any HTTP client does; they are the client's, not a leak of the
		// pipeline or the simulator.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		// Ginkgo's interrupt handler waits for signals for the life of
		// the process, by design.
		ignore := goleak.IgnoreTopFunction("github.com/onsi/ginkgo/v2/internal/interrupt_handler.(*InterruptHandler).registerForInterrupts.func2")
		if err := goleak.Find(ignore); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
