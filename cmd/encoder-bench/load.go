package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/encoderlab/encoderlab/internal/cli"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/encoderlab/encoderlab/bench"
	"github.com/encoderlab/encoderlab/fixtures"
)

// Latency names in a LoadResult.
const (
	latCreate   = "acs/credentials/create"
	latEncode   = "acs/encoders/encode_credential"
	latGet      = "action_attempts/get"
	latTerminal = "creation_to_terminal"
	latSuccess  = "creation_to_success"
	latBare     = "bare"
)

// LoadResult is what the load process prints: one JSON object.
type LoadResult struct {
	Mode    string        `json:"mode"`
	Clients int           `json:"clients"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Requests counts the HTTP requests answered (any status).
	Requests int64 `json:"requests"`
	// Attempts counts encode_credential calls that returned an attempt;
	// Terminal those followed to success or error; the rest were still
	// pending when the run hit its bound.
	Attempts int `json:"attempts"`
	Terminal int `json:"terminal"`
	// Outcomes counts terminal attempts by "success" or "error:<type>".
	Outcomes map[string]int `json:"outcomes"`
	// Statuses counts HTTP answers by status code; "transport" counts
	// requests that got no answer (connection errors, not the run's end).
	Statuses map[string]int           `json:"statuses"`
	Latency  map[string]bench.Summary `json:"latency"`
	// Errors holds the first few unexpected answers, for the report.
	Errors []string `json:"errors,omitempty"`
}

// SuccessRate is successful encodes per second over the run.
func (r *LoadResult) SuccessRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Outcomes["success"]) / r.Elapsed.Seconds()
}

// RequestRate is HTTP requests answered per second over the run.
func (r *LoadResult) RequestRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// loadConfig bounds and aims a load run.
type loadConfig struct {
	url      string // base URL of the API, or the bare handler's URL
	bare     bool
	clients  int
	requests int64         // at most this many HTTP requests
	attempts int64         // at most this many encodes started (0: no bound)
	duration time.Duration // and at most this long
	pollMin  time.Duration
	pollMax  time.Duration
	adaptive bool // first poll after most of the client's typical attempt time

	key      string   // API key
	userID   string   // acs_user_id credentials are created for
	encoders []string // acs_encoder_ids; client i starts on encoders[i%len]
}

const loadUsage = `Usage: encoder-bench load [flags]

Drive an encode API over HTTP from K concurrent keep-alive clients and print
one JSON object: requests, attempts, outcomes, HTTP statuses and latency
summaries. Each client creates two credentials (POST
/acs/credentials/create) and then loops: POST
/acs/encoders/encode_credential with each in turn, then POST
/action_attempts/get until the attempt is terminal. The API has no way to wait for an
attempt, so the client polls: first after about three quarters of the
time its recent attempts took (at least --poll-min), then at shrinking
pauses between --poll-min and --poll-max.
The run stops at --requests HTTP requests, --attempts encodes or
--duration, whichever comes first; attempts still pending then are
reported as unfinished.

With --bare, each client instead POSTs a small JSON body to --url in a
loop: the raw cost of an HTTP round trip, for comparison.
`

func loadMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("encoder-bench", "load", loadUsage, stdout, stderr, true)
	var c loadConfig
	var labPath, workspace, system, user string
	fs.StringVar(&c.url, "url", "", "API base `URL` (or, with --bare, the handler's URL)")
	fs.BoolVar(&c.bare, "bare", false, "POST a small JSON body to --url in a loop instead of encoding")
	fs.IntVar(&c.clients, "clients", 16, "concurrent keep-alive `K` clients")
	fs.Int64Var(&c.requests, "requests", 1_000_000, "stop after `N` HTTP requests")
	fs.Int64Var(&c.attempts, "attempts", 0, "stop after starting `M` encodes (0: no bound)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "stop after `T`")
	fs.DurationVar(&c.pollMin, "poll-min", 200*time.Microsecond, "first pause before polling an attempt")
	fs.DurationVar(&c.pollMax, "poll-max", 2*time.Millisecond, "longest pause between two polls")
	fs.BoolVar(&c.adaptive, "adaptive-poll", true, "first poll after three quarters of the client's typical attempt time; false polls from --poll-min on, to measure latency finely")
	fs.StringVar(&labPath, "lab", "", "lab `FILE` the server runs (default: the bundled lab)")
	fs.StringVar(&workspace, "workspace", "", "workspace id (default: the lab's first)")
	fs.StringVar(&system, "system", "visionline-hotel", "ACS system `KEY` whose guest gets the credentials and whose encoders are driven")
	fs.StringVar(&user, "user", "guest", "user `KEY` in that system")
	if code, stop := cli.Parse(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "encoder-bench load: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if !c.bare {
		if err := c.aim(labPath, workspace, system, user); err != nil {
			fmt.Fprintf(stderr, "encoder-bench load: %v\n", err)
			return exitUsage
		}
	}
	if err := c.check(); err != nil {
		fmt.Fprintf(stderr, "encoder-bench load: %v\n", err)
		return exitUsage
	}
	res := runLoad(ctx, c)
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintf(stderr, "encoder-bench load: %v\n", err)
		return exitFail
	}
	return exitOK
}

// aim fills in the key, user and encoders from the lab.
func (c *loadConfig) aim(labPath, workspaceID, systemKey, userKey string) error {
	lab := fixtures.Bundled()
	if labPath != "" {
		var err error
		if lab, err = fixtures.Load(labPath); err != nil {
			return err
		}
	}
	if len(lab.Workspaces) == 0 {
		return errors.New("the lab has no workspace")
	}
	ws := lab.Workspaces[0]
	if workspaceID != "" {
		if ws = lab.Workspace(workspaceID); ws == nil {
			return fmt.Errorf("no workspace %s in the lab", workspaceID)
		}
	}
	if len(ws.APIKeys) == 0 {
		return fmt.Errorf("workspace %s has no API key", ws.Name)
	}
	sys := ws.System(systemKey)
	if sys == nil {
		return fmt.Errorf("workspace %s has no ACS system %q", ws.Name, systemKey)
	}
	u := sys.User(userKey)
	if u == nil {
		return fmt.Errorf("ACS system %q has no user %q", systemKey, userKey)
	}
	c.key, c.userID = ws.APIKeys[0], u.ID
	for _, e := range ws.Encoders {
		if e.System == systemKey && e.Driver == "pms" {
			c.encoders = append(c.encoders, e.ID)
		}
	}
	if len(c.encoders) == 0 {
		return fmt.Errorf("ACS system %q has no PMS encoder", systemKey)
	}
	return nil
}

func (c *loadConfig) check() error {
	switch {
	case c.url == "":
		return errors.New("--url is required")
	case c.clients < 1 || c.clients > 10_000:
		return fmt.Errorf("--clients %d: want 1 to 10000", c.clients)
	case c.requests < 1:
		return fmt.Errorf("--requests %d: want at least 1", c.requests)
	case c.attempts < 0:
		return fmt.Errorf("--attempts %d: want 0 (no bound) or more", c.attempts)
	case c.duration <= 0:
		return fmt.Errorf("--duration %v: want a positive duration", c.duration)
	case c.pollMin <= 0 || c.pollMax < c.pollMin:
		return fmt.Errorf("--poll-min %v, --poll-max %v: want 0 < min <= max", c.pollMin, c.pollMax)
	}
	return nil
}

// tally is one client's record; clients merge theirs at the end.
type tally struct {
	requests, attempts, terminal int
	outcomes, statuses           map[string]int
	lat                          map[string][]time.Duration
	errors                       []string
}

func newTally() *tally {
	return &tally{outcomes: map[string]int{}, statuses: map[string]int{}, lat: map[string][]time.Duration{}}
}

func (t *tally) fail(format string, args ...any) {
	if len(t.errors) < 5 {
		t.errors = append(t.errors, fmt.Sprintf(format, args...))
	}
}

// errStop ends a client: a bound was reached.
var errStop = errors.New("load bound reached")

// loader is one load run shared by its clients.
type loader struct {
	c        loadConfig
	hc       *http.Client
	requests atomic.Int64 // taken from the budget
	attempts atomic.Int64
}

// runLoad runs the clients until a bound and merges their tallies.
func runLoad(ctx context.Context, c loadConfig) *LoadResult {
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	tr := &http.Transport{
		MaxIdleConns:        c.clients,
		MaxIdleConnsPerHost: c.clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	l := &loader{c: c, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}

	tallies := make([]*tally, c.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range c.clients {
		tallies[i] = newTally()
		wg.Go(func() { l.client(ctx, i, tallies[i]) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := &LoadResult{Mode: "encode", Clients: c.clients, Elapsed: elapsed,
		Outcomes: map[string]int{}, Statuses: map[string]int{}, Latency: map[string]bench.Summary{}}
	if c.bare {
		res.Mode = "bare"
	}
	lat := map[string][]time.Duration{}
	for _, t := range tallies {
		res.Requests += int64(t.requests)
		res.Attempts += t.attempts
		res.Terminal += t.terminal
		for k, v := range t.outcomes {
			res.Outcomes[k] += v
		}
		for k, v := range t.statuses {
			res.Statuses[k] += v
		}
		for k, v := range t.lat {
			lat[k] = append(lat[k], v...)
		}
		for _, e := range t.errors {
			if len(res.Errors) < 10 {
				res.Errors = append(res.Errors, e)
			}
		}
	}
	for k, v := range lat {
		res.Latency[k] = bench.Summarize(v)
	}
	return res
}

// client runs sequences until a bound; any other error is tallied and
// the client goes on with a new sequence.
func (l *loader) client(ctx context.Context, i int, t *tally) {
	cs := &clientState{}
	for n := 0; ctx.Err() == nil; n++ {
		var err error
		if l.c.bare {
			_, err = l.post(ctx, t, latBare, l.c.url, map[string]string{"action_attempt_id": "00000000-0000-4000-8000-000000000000"})
		} else {
			err = l.encode(ctx, t, cs, l.c.encoders[(i+n*l.c.clients)%len(l.c.encoders)])
		}
		if errors.Is(err, errStop) {
			return
		}
	}
}

// clientState is what one client keeps between its encodes: the
// credentials it encodes in turn (two guests' key cards re-made by turns,
// as a desk does all day; the system allows reissue, and consecutive
// encodes on an encoder differ, as they do at a desk), and how long its
// recent attempts took, so it polls about when the outcome is due
// instead of asking over and over while the card is being written.
type clientState struct {
	credentials [2]string
	turn        int
	typical     time.Duration // moving average of creation → terminal
}

// firstPoll is how long to wait before the first poll.
func (cs *clientState) firstPoll(floor time.Duration) time.Duration {
	return max(floor, cs.typical*3/4)
}

func (cs *clientState) took(d time.Duration) {
	if cs.typical == 0 {
		cs.typical = d
		return
	}
	cs.typical = (7*cs.typical + d) / 8
}

// encode runs one encode → poll sequence, creating the client's credential
// first if it has none.
func (l *loader) encode(ctx context.Context, t *tally, cs *clientState, encoderID string) error {
	if l.c.attempts > 0 && l.attempts.Add(1) > l.c.attempts {
		return errStop
	}
	cs.turn = (cs.turn + 1) % len(cs.credentials)
	if cs.credentials[cs.turn] == "" {
		var cred struct {
			Credential struct {
				ID string `json:"acs_credential_id"`
			} `json:"acs_credential"`
		}
		body, err := l.post(ctx, t, latCreate, l.c.url+"/acs/credentials/create",
			map[string]string{"acs_user_id": l.c.userID, "access_method": "card"})
		if err != nil {
			return err
		}
		if err := json.Unmarshal(body, &cred); err != nil || cred.Credential.ID == "" {
			t.fail("create: no credential in %.200s", body)
			return fmt.Errorf("create: %s", body)
		}
		cs.credentials[cs.turn] = cred.Credential.ID
	}

	started := time.Now()
	body, err := l.post(ctx, t, latEncode, l.c.url+"/acs/encoders/encode_credential",
		map[string]string{"acs_credential_id": cs.credentials[cs.turn], "acs_encoder_id": encoderID})
	if err != nil {
		return err
	}
	a, err := parseAttempt(body)
	if err != nil {
		t.fail("encode_credential: %v", err)
		return err
	}
	t.attempts++
	pause := l.c.pollMin
	if l.c.adaptive {
		pause = cs.firstPoll(l.c.pollMin)
	}
	for a.Status == "pending" {
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return errStop
		case <-timer.C:
		}
		pause = min(max(2*pause/3, l.c.pollMin), l.c.pollMax)
		body, err = l.post(ctx, t, latGet, l.c.url+"/action_attempts/get", map[string]string{"action_attempt_id": a.ID})
		if err != nil {
			return err
		}
		if a, err = parseAttempt(body); err != nil {
			t.fail("action_attempts/get: %v", err)
			return err
		}
	}
	took := time.Since(started)
	cs.took(took)
	t.terminal++
	t.lat[latTerminal] = append(t.lat[latTerminal], took)
	switch a.Status {
	case "success":
		t.outcomes["success"]++
		t.lat[latSuccess] = append(t.lat[latSuccess], took)
	case "error":
		t.outcomes["error:"+a.Error.Type]++
	default:
		t.outcomes["status:"+a.Status]++
	}
	return nil
}

type attemptOut struct {
	ID     string `json:"action_attempt_id"`
	Status string `json:"status"`
	Error  struct {
		Type string `json:"type"`
	} `json:"error"`
}

func parseAttempt(body []byte) (attemptOut, error) {
	var v struct {
		A attemptOut `json:"action_attempt"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.A.ID == "" || v.A.Status == "" {
		return attemptOut{}, fmt.Errorf("no action attempt in %.200s", body)
	}
	return v.A, nil
}

// post sends one JSON request, taking it from the budget, and returns the
// body of a 200 answer. A non-200 answer is tallied and returned as an
// error; a request cut short by the run's end is errStop and not timed.
func (l *loader) post(ctx context.Context, t *tally, name, url string, payload any) ([]byte, error) {
	if l.requests.Add(1) > l.c.requests {
		return nil, errStop
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if l.c.key != "" {
		req.Header.Set("Authorization", "Bearer "+l.c.key)
	}
	start := time.Now()
	resp, err := l.hc.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	took := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errStop
		}
		t.statuses["transport"]++
		t.fail("%s: %v", name, err)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t.requests++
	t.statuses[strconv.Itoa(resp.StatusCode)]++
	t.lat[name] = append(t.lat[name], took)
	if resp.StatusCode != http.StatusOK {
		t.fail("%s: %d %.200s", name, resp.StatusCode, body)
		return nil, fmt.Errorf("%s: status %d", name, resp.StatusCode)
	}
	return body, nil
}
