package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/internal/require"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
)

// The flood: clients that hold connections and never finish a request.
const (
	floodFileLimit = 1024 // the server's RLIMIT_NOFILE, a common default
	floodSilent    = 1000 // connect and send nothing
	floodKeptAlive = 1000 // send one request, then keep the connection idle
	floodSlow      = 500  // send a header, then the body at 1 byte/s
)

// floodChildEnv makes the test binary the flooded server.
const floodChildEnv = "ENCODERLAB_FLOOD_SERVER"

// TestConnectionFlood: a server whose process may open 1024 files, with a
// virtual encoder on front-desk-1, is held by 2,000 idle connections and
// 500 clients trickling their bodies at a byte a second. A normal client
// must still list encoders, create a credential and encode it to success.
// Before connections were bounded, the idle ones took every descriptor and
// the normal client's requests were never accepted.
//
// The server runs in a child process (this test binary again) so that the
// lowered file limit applies to it alone.
func TestConnectionFlood(t *testing.T) {
	if os.Getenv(floodChildEnv) != "" {
		floodServer(t)
		return
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	need := uint64(floodSilent + floodKeptAlive + floodSlow + 200)
	if rl.Cur < need && rl.Max >= need {
		// The soft limit may go up to the hard one without privileges.
		raised := rl
		raised.Cur = need
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			rl = raised
		}
	}
	if rl.Cur < need {
		require.Missing(t, "the flood's clients need %d open files; this process may open %d (raise it with ulimit -n %d)", need, rl.Cur, need)
	}

	child := startFloodServer(t)
	addr := strings.TrimPrefix(child.url, "http://")
	ws := fixtures.Bundled().Workspaces[0]

	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	hold := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, waitBound)
		if err != nil {
			t.Fatalf("connecting a flood client: %v", err)
		}
		hold(c)
		return c
	}
	for range floodSilent {
		dial()
	}
	keepAlive := "GET /acs/encoders/list HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + ws.APIKeys[0] + "\r\n\r\n"
	for range floodKeptAlive {
		// Never read: the answer waits in the socket, and the server
		// holds the connection for the next request.
		_, _ = io.WriteString(dial(), keepAlive)
	}
	slowHeader := "POST /acs/credentials/create HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + ws.APIKeys[0] +
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
	slow := make([]net.Conn, 0, floodSlow)
	for range floodSlow {
		c := dial()
		_, _ = io.WriteString(c, slowHeader)
		slow = append(slow, c)
	}
	stopTrickle := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopTrickle:
				return
			case <-tick.C:
			}
			for _, c := range slow {
				_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				_, _ = c.Write([]byte{' '}) // whitespace before the JSON: a valid body, were it to end
			}
		}
	}()
	t.Cleanup(func() { close(stopTrickle); <-trickled })

	// The normal client, on connections of its own.
	c := &client{t: t, url: child.url, token: ws.APIKeys[0]}
	var listed struct {
		Encoders []seam.Encoder `json:"acs_encoders"`
	}
	if st := c.call("/acs/encoders/list", map[string]string{}, &listed); st != http.StatusOK || len(listed.Encoders) != len(ws.Encoders) {
		t.Fatalf("/acs/encoders/list during the flood: status %d, %d encoders; want 200 and %d", st, len(listed.Encoders), len(ws.Encoders))
	}
	cred := c.createCard(ws)
	a := c.waitAttempt(c.encode(cred.ACSCredentialID, fixtures.EncoderID(ws.ID, "front-desk-1")).ActionAttemptID)
	if a.Status != seam.StatusSuccess {
		t.Fatalf("encode during the flood ended %s %+v, want success", a.Status, a.Error)
	}
	if out := child.output(); strings.Contains(out, "too many open files") {
		t.Errorf("the server ran out of descriptors during the flood:\n%s", out)
	}
}

// floodChild is the flooded server's process.
type floodChild struct {
	url  string
	mu   sync.Mutex
	out  strings.Builder // its output, for diagnostics
	done chan struct{}   // closed once its output ended
}

func (c *floodChild) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// startFloodServer runs floodServer in a child process and returns once
// it serves.
func startFloodServer(t *testing.T) *floodChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestConnectionFlood$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), floodChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := &floodChild{done: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		defer close(child.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "FLOOD-URL "); ok {
				urls <- u
			}
			child.mu.Lock()
			child.out.WriteString(line + "\n")
			child.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		// Closing its stdin stops it; the flood's connections are closed
		// first (cleanups run last in, first out).
		stdin.Close()
		exited := make(chan error, 1)
		go func() { <-child.done; exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the flooded server exited with %v:\n%s", err, child.output())
			}
		case <-time.After(waitBound):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("the flooded server did not stop within %v:\n%s", waitBound, child.output())
		}
	})
	select {
	case u := <-urls:
		if _, err := url.Parse(u); err != nil {
			t.Fatal(err)
		}
		child.url = u
	case <-child.done:
		t.Fatalf("the flooded server ended before serving:\n%s", child.output())
	case <-time.After(waitBound):
		t.Fatalf("the flooded server did not serve within %v:\n%s", waitBound, child.output())
	}
	return child
}

// floodServer is the child: with its file limit lowered, it runs a
// virtual encoder on front-desk-1 and a server with the default
// connection settings, prints the URL and serves until stdin closes.
func floodServer(t *testing.T) {
	lim := syscall.Rlimit{Cur: floodFileLimit, Max: floodFileLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("lowering the file limit: %v", err)
	}
	cfg := testConfig(t)
	cfg.Scale = 0.1 // as TestEncodeOnAVirtualEncoder: a 3 s attempt deadline
	sc, err := scenarios.Load("first-issue")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: cfg.LinkDir, Scale: cfg.Scale})
	if err != nil {
		t.Fatalf("starting the virtual encoder: %v", err)
	}
	played := make(chan error, 1)
	go func() { played <- enc.Play(ctx) }()
	defer func() {
		cancel()
		<-played
		enc.Close()
	}()
	srv := start(t, cfg)
	fmt.Printf("FLOOD-URL %s\n", srv.URL())
	_, _ = io.Copy(io.Discard, os.Stdin)
}
