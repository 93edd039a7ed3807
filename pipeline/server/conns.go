package server

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Connection bounds of Config.
const (
	// DefaultReadHeaderTimeout bounds reading a request's header.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included:
	// bodies are small JSON (at most api.DefaultMaxBodyBytes), so only a
	// client trickling its body needs longer.
	DefaultReadTimeout = 20 * time.Second
	// DefaultWriteTimeout bounds a request from the end of its header to
	// the end of its answer; every endpoint answers at once (an encode
	// returns a pending attempt), so this is room for a slow store.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 60 * time.Second

	// reservedFiles are the descriptors the default connection cap leaves
	// to the rest of the process: the store (SQLite's files, or a
	// PostgreSQL pool), logs, the profile listener and the runtime.
	reservedFiles = 128
	// filesPerEncoder are the descriptors each encoder may hold: its port,
	// and a pty pair when a simulator runs in the same process.
	filesPerEncoder = 3
	// maxDefaultConns caps the default: far more than desks and their
	// clients need, while bounding the memory idle connections hold.
	maxDefaultConns = 4096
	// minConns is the smallest default cap, however low the file limit.
	minConns = 16
)

// defaultMaxConns derives the connection cap from the soft limit on open
// files (RLIMIT_NOFILE), leaving reservedFiles and filesPerEncoder for
// each encoder to the rest of the process.
func defaultMaxConns(encoders int) int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024 - reservedFiles
	}
	return capConns(rl.Cur, encoders)
}

func capConns(limit uint64, encoders int) int {
	reserve := uint64(reservedFiles + filesPerEncoder*encoders)
	if limit <= reserve+minConns {
		return minConns
	}
	return int(min(limit-reserve, maxDefaultConns))
}

// connLimiter caps the connections an http.Server holds. It wraps the
// listener, whose Accept makes room for each new connection once the cap
// is reached, and follows the connections' states through ConnState.
//
// Making room closes the connection that has waited longest among those
// that are not serving a request: idle keep-alive connections, and new
// ones that have not sent a byte; then, only if there are none, new ones
// still sending their header. A connection serving a request is never
// closed; when every one is, Accept waits for one to finish, which the
// read and write timeouts bound. So a flood of clients that connect and
// say nothing costs each real client at most the eviction of one of
// them, and never its own descriptor.
type connLimiter struct {
	net.Listener
	max int

	mu     sync.Mutex
	cond   *sync.Cond // signalled when a connection closes or goes idle
	conns  map[*limitedConn]struct{}
	closed bool
}

func newConnLimiter(ln net.Listener, maxConns int) *connLimiter {
	l := &connLimiter{Listener: ln, max: maxConns, conns: map[*limitedConn]struct{}{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// limitedConn is an accepted connection as the limiter tracks it.
type limitedConn struct {
	net.Conn
	l *connLimiter

	// Under l.mu:
	state http.ConnState
	since time.Time // when it entered state

	read      atomic.Bool // a byte was read from it
	closeOnce sync.Once
	closeErr  error
}

func (c *limitedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.read.Store(true)
	}
	return n, err
}

func (c *limitedConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.Conn.Close()
		c.l.forget(c)
	})
	return c.closeErr
}

// Accept accepts the next connection, first making room for it.
func (l *connLimiter) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &limitedConn{Conn: nc, l: l, state: http.StateNew, since: time.Now()}
	l.mu.Lock()
	for len(l.conns) >= l.max && !l.closed {
		if victim := l.victim(); victim != nil {
			delete(l.conns, victim)
			l.mu.Unlock()
			victim.Close()
			l.mu.Lock()
			continue
		}
		l.cond.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		nc.Close()
		return nil, net.ErrClosed
	}
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	return c, nil
}

// victim is the connection to close to make room, or nil when every
// connection is serving a request. l.mu must be held.
func (l *connLimiter) victim() *limitedConn {
	var silent, talking *limitedConn // oldest of each kind
	for c := range l.conns {
		switch {
		case c.state == http.StateIdle, c.state == http.StateNew && !c.read.Load():
			if silent == nil || c.since.Before(silent.since) {
				silent = c
			}
		case c.state == http.StateNew:
			if talking == nil || c.since.Before(talking.since) {
				talking = c
			}
		}
	}
	if silent != nil {
		return silent
	}
	return talking
}

// connState is the http.Server's ConnState hook.
func (l *connLimiter) connState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*limitedConn)
	if !ok {
		return
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		l.forget(c)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c.state, c.since = st, time.Now()
	if st == http.StateIdle {
		l.cond.Broadcast()
	}
}

// forget stops counting c.
func (l *connLimiter) forget(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[c]; ok {
		delete(l.conns, c)
		l.cond.Broadcast()
	}
}

// Close closes the listener and wakes an Accept waiting for room.
func (l *connLimiter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}
