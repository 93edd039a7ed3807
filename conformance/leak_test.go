package conformance_test

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// recording, virtual encoder and in-process server the suite starts must
// be gone when it ends.
//
// Run by the ginkgo CLI in parallel processes (ginkgo -p), a process runs
// only the suite: the package's other tests run suites of their own, and
// Ginkgo allows one RunSpecs per process.
func TestMain(m *testing.M) {
	flag.Parse()
	if host := flag.Lookup("ginkgo.parallel.host"); host != nil && host.Value.String() != "" {
		if err := flag.Set("test.run", "^TestConformance$"); err != nil {
			fmt.Fprintf(os.Stderr, "selecting the suite: %v\n", err)
			os.Exit(2)
		}
	}
	code := m.Run()
	if code == 0 {
		// The suite's API clients keep connections alive between calls, as
		// any HTTP client does; they are the client's, not a leak of the
		// pipeline or the simulator.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		// Ginkgo's interrupt handler waits for signals for the life of
		// the process, by design, and in a parallel process also for
		// the ginkgo CLI's word that another process was interrupted.
		const handler = "github.com/onsi/ginkgo/v2/internal/interrupt_handler.(*InterruptHandler).registerForInterrupts"
		if err := goleak.Find(goleak.IgnoreTopFunction(handler+".func1"), goleak.IgnoreTopFunction(handler+".func2")); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
