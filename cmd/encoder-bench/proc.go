package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is a process the orchestrator started: its stdout is read line
// by line, its stderr goes to a file, and closing its stdin asks it to
// stop (the fleet's protocol).
type child struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	errLog string
	waited chan error
}

// startChild starts path with args; its stderr is appended to errLog.
func startChild(name, path string, args []string, errLog string) (*child, error) {
	cmd := exec.Command(path, args...)
	logf, err := os.OpenFile(errLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, stdin: stdin, lines: make(chan string, 64), errLog: errLog, waited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.waited <- cmd.Wait()
		logf.Close()
	}()
	return c, nil
}

// line returns the next stdout line for which keep is true, waiting at
// most timeout.
func (c *child) line(ctx context.Context, timeout time.Duration, keep func(string) bool) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return "", fmt.Errorf("%s exited before answering; its log %s ends:\n%s", c.name, c.errLog, tail(c.errLog))
			}
			if keep(l) {
				return l, nil
			}
		case <-t.C:
			return "", fmt.Errorf("%s: no answer within %v; its log %s ends:\n%s", c.name, timeout, c.errLog, tail(c.errLog))
		case <-ctx.Done():
			return "", fmt.Errorf("%s: %w", c.name, ctx.Err())
		}
	}
}

// readJSON decodes the next stdout line that is a JSON object into v.
func (c *child) readJSON(ctx context.Context, timeout time.Duration, v any) error {
	l, err := c.line(ctx, timeout, func(l string) bool { return strings.HasPrefix(l, "{") })
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(l), v); err != nil {
		return fmt.Errorf("%s: %w in %.200s", c.name, err, l)
	}
	return nil
}

// stop closes stdin, sends SIGTERM and waits; after grace it kills. It
// returns the process's own failure, if any.
func (c *child) stop(grace time.Duration) error {
	c.stdin.Close()
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
	return c.wait(grace)
}

// wait waits for the process to exit by itself, killing it after grace.
func (c *child) wait(grace time.Duration) error {
	// Drain stdout so the reader can reach Wait.
	go func() {
		for range c.lines {
		}
	}()
	select {
	case err := <-c.waited:
		c.waited <- err
		return c.exitErr(err)
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		err := <-c.waited
		c.waited <- err
		return fmt.Errorf("%s did not stop within %v; killed", c.name, grace)
	}
}

func (c *child) exitErr(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ProcessState != nil {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil // stopped as asked
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w; its log %s ends:\n%s", c.name, err, c.errLog, tail(c.errLog))
	}
	return nil
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
