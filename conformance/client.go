package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// client calls the API under test the way Seam's SDKs do: bearer token,
// JSON bodies, SDK headers a server must tolerate.
type client struct {
	base      string
	token     string
	workspace string // sent as seam-workspace when set (personal access tokens)
	http      *http.Client
	// outage is how long a read (read) goes on trying while the server
	// cannot be reached, as while a kill step restarts it; 0: not at all.
	outage time.Duration
}

// response is one API answer, kept raw so checks see exactly what came back.
type response struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
	// Sent is when the request was sent, Received when the answer's
	// body had arrived: the time bounds of what the server did for it.
	Sent, Received time.Time

	// attempt is the body's action_attempt, decoded once (attemptOf):
	// the follow loop and every requirement read it.
	attempt struct {
		once sync.Once
		v    map[string]any
		err  error
	}
}

func (r *response) String() string {
	return fmt.Sprintf("%s %s → %d %s", r.Method, r.Path, r.Status, r.Body)
}

// object decodes the body's top-level object.
func (r *response) object() (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &m); err != nil {
		return nil, fmt.Errorf("%s %s: body is not a JSON object: %w: %q", r.Method, r.Path, err, r.Body)
	}
	return m, nil
}

func newClient(base, token, workspace string) *client {
	return &client{base: base, token: token, workspace: workspace, http: &http.Client{Timeout: 30 * time.Second}}
}

func (c *client) post(ctx context.Context, path string, body any) (*response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, path)
}

func (c *client) get(ctx context.Context, path string, q url.Values) (*response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return c.do(req, path)
}

// read makes call, a request that changes nothing, and while the server
// cannot be reached makes it again, for at most c.outage: an answer is
// what the suite judges, and a server that was killed and restarted has
// one to give.
func (c *client) read(ctx context.Context, call func() (*response, error)) (*response, error) {
	giveUp := time.Now().Add(c.outage)
	for {
		res, err := call()
		var unreachable *url.Error
		if err == nil || c.outage == 0 || !errors.As(err, &unreachable) || ctx.Err() != nil || time.Now().After(giveUp) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (c *client) do(req *http.Request, path string) (*response, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.workspace != "" {
		req.Header.Set("seam-workspace", c.workspace)
	}
	req.Header.Set("seam-sdk-name", "encoderlab-conformance")
	req.Header.Set("seam-sdk-version", "0")
	sent := time.Now()
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading body: %w", req.Method, path, err)
	}
	return &response{Method: req.Method, Path: path, Status: res.StatusCode, Header: res.Header, Body: body, Sent: sent, Received: time.Now()}, nil
}
