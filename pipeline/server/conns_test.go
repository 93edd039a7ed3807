package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
)

// TestTimeoutsCloseConnections: an idle keep-alive connection is closed
// after Config.IdleTimeout, and a request whose body never ends is cut
// off after Config.ReadTimeout; the bound on each wait is generous, not
// the timeout itself.
func TestTimeoutsCloseConnections(t *testing.T) {
	cfg := testConfig(t)
	cfg.IdleTimeout = 100 * time.Millisecond
	cfg.ReadTimeout = 200 * time.Millisecond
	srv := start(t, cfg)
	addr := strings.TrimPrefix(srv.URL(), "http://")
	key := fixtures.Bundled().Workspaces[0].APIKeys[0]

	dial := func(t *testing.T) net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, waitBound)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.SetDeadline(time.Now().Add(waitBound)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// closed reads what is left on c and fails unless the server closes it.
	closed := func(t *testing.T, c net.Conn, r *bufio.Reader) {
		t.Helper()
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatalf("the server did not close the connection within %v: %v", waitBound, err)
		}
	}

	t.Run("idle", func(t *testing.T) {
		c := dial(t)
		if _, err := io.WriteString(c, "GET /acs/encoders/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+key+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("first request: status %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
		closed(t, c, r)
	})
	t.Run("body that never ends", func(t *testing.T) {
		c := dial(t)
		if _, err := io.WriteString(c, "POST /acs/encoders/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+key+
			"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		closed(t, c, bufio.NewReader(c))
	})
}
