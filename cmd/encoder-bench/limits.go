package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/encoderlab/encoderlab/bench"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/device/pms"
	"github.com/encoderlab/encoderlab/sim/pty"
)

// lineTimeout bounds every single read of a round trip on a pty.
const lineTimeout = 5 * time.Second

// ptyEcho measures round trips of a 16-byte message through a pty, both
// ends on Go's poller: the master echoes, the client opens the slave as
// encoderd opens a port (pipeline/serialport).
func ptyEcho(n int) (bench.Summary, error) {
	pair, err := pty.Open()
	if err != nil {
		return bench.Summary{}, err
	}
	defer pair.Close()
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		buf := make([]byte, 64)
		for {
			k, err := pair.Master().Read(buf)
			if err != nil {
				return
			}
			if _, err := pair.Master().Write(buf[:k]); err != nil {
				return
			}
		}
	}()
	defer func() { pair.Close(); <-echoed }()
	p, err := serialport.Open(pair.TTY(), serialport.Mode{Baud: 115200})
	if err != nil {
		return bench.Summary{}, err
	}
	defer p.Close()
	msg := []byte("0123456789abcdef")
	got := make([]byte, len(msg))
	return timeRounds(n, func() error {
		if err := p.SetReadDeadline(time.Now().Add(lineTimeout)); err != nil {
			return err
		}
		if _, err := p.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(p, got); err != nil {
			return err
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("echo % X, want % X", got, msg)
		}
		return nil
	})
}

// simFrames measures, on one virtual PMS encoder, the ENQ→ACK round trip
// and a whole RC command (frame, ACK, answer frame; the host's ACK to the
// answer goes out untimed), the host on a serial port as encoderd's.
func simFrames(n int) (enq, rc bench.Summary, err error) {
	pair, err := pty.Open()
	if err != nil {
		return enq, rc, err
	}
	defer pair.Close()
	cfg := pms.DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	dev := pms.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = dev.Serve(ctx, pair.Master()) }()
	defer func() { cancel(); <-served }()
	p, err := serialport.Open(pair.TTY(), serialport.Mode{Baud: 9600})
	if err != nil {
		return enq, rc, err
	}
	defer p.Close()

	one := make([]byte, 1)
	enq, err = timeRounds(n, func() error {
		if err := p.SetReadDeadline(time.Now().Add(lineTimeout)); err != nil {
			return err
		}
		if _, err := p.Write([]byte{0x05}); err != nil {
			return err
		}
		if _, err := io.ReadFull(p, one); err != nil {
			return err
		}
		if one[0] != 0x06 {
			return fmt.Errorf("ENQ answered 0x%02X, want ACK", one[0])
		}
		return nil
	})
	if err != nil {
		return enq, rc, fmt.Errorf("ENQ: %w", err)
	}
	// RC on an empty reader: ACK, then the answer frame NC.
	cmd := pmsFrame("RC", "01")
	answer := pmsFrame("NC", "01")
	got := make([]byte, 1+len(answer))
	rc, err = timeRounds(n, func() error {
		if err := p.SetReadDeadline(time.Now().Add(lineTimeout)); err != nil {
			return err
		}
		if _, err := p.Write(cmd); err != nil {
			return err
		}
		if _, err := io.ReadFull(p, got); err != nil {
			return err
		}
		if got[0] != 0x06 || !bytes.Equal(got[1:], answer) {
			return fmt.Errorf("RC answered % X, want ACK then % X", got, answer)
		}
		return nil
	}, func() error {
		_, err := p.Write([]byte{0x06}) // ACK the answer, off the clock
		return err
	})
	if err != nil {
		return enq, rc, fmt.Errorf("RC: %w", err)
	}
	return enq, rc, nil
}

// pmsFrame builds a PMS frame from docs/protocols/pms.md: STX, fields
// separated by FS (0xB3), ETX, then the XOR of everything after STX
// through ETX.
func pmsFrame(fields ...string) []byte {
	b := []byte{0x02}
	b = append(b, strings.Join(fields, "\xb3")...)
	b = append(b, 0x03)
	var x byte
	for _, c := range b[1:] {
		x ^= c
	}
	return append(b, x)
}

// timeRounds runs round n times after a warm-up of n/10 and summarises
// the times; each after (if any) runs untimed after its round.
func timeRounds(n int, round func() error, after ...func() error) (bench.Summary, error) {
	times := make([]time.Duration, 0, n)
	for i := range n + n/10 {
		start := time.Now()
		if err := round(); err != nil {
			return bench.Summary{}, fmt.Errorf("round %d: %w", i+1, err)
		}
		if i >= n/10 {
			times = append(times, time.Since(start))
		}
		for _, f := range after {
			if err := f(); err != nil {
				return bench.Summary{}, fmt.Errorf("round %d: %w", i+1, err)
			}
		}
	}
	return bench.Summarize(times), nil
}

// SQLiteLimit is the durable write rate of a bare SQLite database as the
// store opens it (modernc, WAL, synchronous=FULL).
type SQLiteLimit struct {
	// PairsPerTx1 is insert+update pairs per second, each statement its
	// own transaction (as the store writes an attempt and its outcome).
	PairsPerTx1 float64
	// PairsPerTx100 is pairs per second, 100 pairs per transaction.
	PairsPerTx100 float64
}

// sqliteLimit writes pairs into a fresh database in dir for about d per
// mode.
func sqliteLimit(dir string, d time.Duration) (SQLiteLimit, error) {
	var lim SQLiteLimit
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.Join(dir, "bare.db"), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return lim, fmt.Errorf("bare sqlite: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE attempts (id INTEGER PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL)`); err != nil {
		return lim, fmt.Errorf("bare sqlite: %w", err)
	}
	body := strings.Repeat("x", 600) // about an attempt's JSON
	var id int64
	pairs := func(batch int) (float64, error) {
		n, start := 0, time.Now()
		for time.Since(start) < d {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			for range batch {
				id++
				if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (id, status, body) VALUES (?, 'pending', ?)`, id, body); err != nil {
					return 0, errors.Join(err, tx.Rollback())
				}
				if batch == 1 {
					if err := tx.Commit(); err != nil {
						return 0, err
					}
					if tx, err = db.BeginTx(ctx, nil); err != nil {
						return 0, err
					}
				}
				if _, err := tx.ExecContext(ctx, `UPDATE attempts SET status = 'success', body = ? WHERE id = ?`, body, id); err != nil {
					return 0, errors.Join(err, tx.Rollback())
				}
			}
			if err := tx.Commit(); err != nil {
				return 0, err
			}
			n += batch
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	if lim.PairsPerTx1, err = pairs(1); err != nil {
		return lim, fmt.Errorf("bare sqlite, one transaction each: %w", err)
	}
	if lim.PairsPerTx100, err = pairs(100); err != nil {
		return lim, fmt.Errorf("bare sqlite, 100 pairs a transaction: %w", err)
	}
	return lim, nil
}

// bareServer serves a small JSON handler on loopback: it decodes the
// request's object and answers an action-attempt-shaped object. It is
// the floor under every API call.
type bareServer struct {
	srv *http.Server
	ln  net.Listener
}

func startBare() (*bareServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bare http: %w", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ID string `json:"action_attempt_id"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, `{"error":{"type":"invalid_input"}}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"action_attempt": map[string]any{"action_attempt_id": in.ID, "status": "success", "action_type": "ENCODE_CREDENTIAL", "result": map[string]any{}, "error": nil},
			"ok":             true,
		})
	})
	s := &bareServer{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *bareServer) URL() string { return "http://" + s.ln.Addr().String() + "/" }

func (s *bareServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
