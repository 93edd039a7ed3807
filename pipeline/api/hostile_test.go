package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/timescale"
)

// More fixture values from the bundled lab.
const (
	pat2        = "seam_at_testlab_2_TESTONLY_not_a_secret"
	visionline2 = "2613b257-8c5a-4659-9986-e26c940fee9f"
)

// hostileRequests is how many generated requests TestHostileRequests
// sends: ENCODERLAB_HOSTILE_REQUESTS, or 100,000 (5,000 with -short),
// a fifth of that under the race detector.
func hostileRequests(t *testing.T) int {
	if v := os.Getenv("ENCODERLAB_HOSTILE_REQUESTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ENCODERLAB_HOSTILE_REQUESTS=%q: want a positive integer", v)
		}
		return n
	}
	n := 100_000
	if testing.Short() {
		n = 5_000
	}
	if raceDetector {
		n /= 5
	}
	return n
}

// hostileSeed is ENCODERLAB_HOSTILE_SEED, or a fresh seed.
func hostileSeed(t *testing.T) uint64 {
	if v := os.Getenv("ENCODERLAB_HOSTILE_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("ENCODERLAB_HOSTILE_SEED=%q: want an unsigned integer", v)
		}
		return s
	}
	return uint64(time.Now().UnixNano())
}

// TestHostileRequests sends generated requests, most of them malformed
// or malicious, over real HTTP to a live server, from a few keep-alive
// clients at once, and checks every answer: never a 5xx (a recovered
// panic is a 500 too), never a hang, always the Seam envelope with a
// status of the class the request deserves, and no answer to one
// workspace that names the other. Afterwards the server still encodes.
func TestHostileRequests(t *testing.T) {
	n := hostileRequests(t)
	seed := hostileSeed(t)
	t.Logf("%d requests, seed %d (rerun with ENCODERLAB_HOSTILE_SEED=%d)", n, seed, seed)

	srv, err := server.Start(t.Context(), server.Config{
		Lab:     fixtures.Bundled(),
		LinkDir: t.TempDir(), // no devices: encodes fail or expire
		DBPath:  filepath.Join(t.TempDir(), "encoderd.db"),
		Addr:    "127.0.0.1:0",
		Scale:   timescale.Scale(0.01),
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	base := srv.URL()

	ids := setUpHostile(t, hc, base)

	const clients = 4
	var (
		mu       sync.Mutex
		counts   = map[string]int{}
		failures []string
		failed   int
	)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		share := n / clients
		if i < n%clients {
			share++
		}
		wg.Go(func() {
			g := &hostileGen{r: rand.New(rand.NewPCG(seed, uint64(i))), ids: ids}
			local := map[string]int{}
			defer func() {
				mu.Lock()
				defer mu.Unlock()
				for k, v := range local {
					counts[k] += v
				}
			}()
			for j := range share {
				if ctx.Err() != nil {
					return
				}
				c := g.next()
				key, err := c.send(ctx, hc, base)
				local[key]++
				if err != nil {
					mu.Lock()
					failed++
					if len(failures) < 10 {
						failures = append(failures, fmt.Sprintf("client %d request %d: %v\n    request: %s", i, j, err, c))
					}
					if failed >= 50 {
						stop()
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	total := 0
	for _, v := range counts {
		total += v
	}
	t.Logf("%d requests in %v (%.0f/s), %d clients:\n%s", total, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds(), clients, statusTable(counts))
	if failed > 0 {
		t.Errorf("%d of %d answers were wrong (seed %d; rerun with ENCODERLAB_HOSTILE_SEED=%d); the first:\n%s",
			failed, total, seed, seed, strings.Join(failures, "\n"))
	}
	if total < n && failed == 0 {
		t.Errorf("sent %d requests, want %d", total, n)
	}
	checkStillEncodes(t, hc, base)
}

// hostileIDs are resources each workspace owns, made before the load so
// requests can name them, from their own workspace and from the other.
type hostileIDs struct {
	cred1, cred2 string // card credentials of workspace 1 and 2
	att1         string // an action attempt of workspace 1
}

func setUpHostile(t *testing.T, hc *http.Client, base string) hostileIDs {
	t.Helper()
	var ids hostileIDs
	var out struct {
		Credential    seam.Credential    `json:"acs_credential"`
		ActionAttempt seam.ActionAttempt `json:"action_attempt"`
	}
	hostileCall(t, hc, base, key1, "/acs/credentials/create", map[string]any{"acs_user_id": guest1, "access_method": "card"}, &out)
	ids.cred1 = out.Credential.ACSCredentialID
	hostileCall(t, hc, base, key2, "/acs/credentials/create", map[string]any{"acs_user_id": guest2, "access_method": "card"}, &out)
	ids.cred2 = out.Credential.ACSCredentialID
	hostileCall(t, hc, base, key1, "/acs/encoders/encode_credential", map[string]any{"acs_credential_id": ids.cred1, "acs_encoder_id": frontDesk1}, &out)
	ids.att1 = out.ActionAttempt.ActionAttemptID
	if ids.cred1 == "" || ids.cred2 == "" || ids.att1 == "" {
		t.Fatalf("setting up: got ids %+v", ids)
	}
	return ids
}

// hostileCall POSTs a well-formed request and wants 200.
func hostileCall(t *testing.T, hc *http.Client, base, token, path string, body, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading the answer: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s %s: status %d, want 200: %s", path, b, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("POST %s: decoding %s: %v", path, raw, err)
	}
}

// checkStillEncodes runs a normal encode after the load: a new card
// credential, an encode on a front desk, and the attempt reaching an end
// (with no device behind the port it fails or expires, within its
// scaled 300 ms deadline).
func checkStillEncodes(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	var out struct {
		Credential    seam.Credential    `json:"acs_credential"`
		ActionAttempt seam.ActionAttempt `json:"action_attempt"`
	}
	hostileCall(t, hc, base, key1, "/acs/credentials/create", map[string]any{"acs_user_id": guest1, "access_method": "card"}, &out)
	hostileCall(t, hc, base, key1, "/acs/encoders/encode_credential",
		map[string]any{"acs_credential_id": out.Credential.ACSCredentialID, "acs_encoder_id": frontDesk1}, &out)
	id := out.ActionAttempt.ActionAttemptID
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for out.ActionAttempt.Status == seam.StatusPending {
		if time.Now().After(deadline) {
			t.Fatalf("after the load, action attempt %s still pending after 30 s", id)
		}
		<-tick.C
		hostileCall(t, hc, base, key1, "/action_attempts/get", map[string]any{"action_attempt_id": id}, &out)
	}
	if s := out.ActionAttempt.Status; s != seam.StatusSuccess && s != seam.StatusError {
		t.Fatalf("after the load, action attempt %s ended %q", id, s)
	}
}

// statusTable lays out the answer counts, by status then error type.
func statusTable(counts map[string]int) string {
	keys := slices.Sorted(maps.Keys(counts))
	var b strings.Builder
	fmt.Fprintf(&b, "  %-6s %-28s %8s\n", "status", "error.type", "count")
	for _, k := range keys {
		status, typ, _ := strings.Cut(k, " ")
		fmt.Fprintf(&b, "  %-6s %-28s %8d\n", status, typ, counts[k])
	}
	return b.String()
}

// hostileCase is one generated request and the answer it deserves.
type hostileCase struct {
	method, path, query string
	header              http.Header
	body                []byte
	chunked             bool
	// want lists the statuses allowed; wantType, when set, the error type.
	want     []int
	wantType string
	// other is the id of the workspace the caller is not in, which no
	// successful answer may name.
	other string
}

func (c hostileCase) String() string {
	body := c.body
	const show = 300
	suffix := ""
	if len(body) > show {
		body, suffix = body[:show], fmt.Sprintf("… (%d bytes)", len(c.body))
	}
	hdr := make([]string, 0, len(c.header))
	for k, vs := range c.header {
		for _, v := range vs {
			if len(v) > 80 {
				v = fmt.Sprintf("%.80s… (%d bytes)", v, len(v))
			}
			hdr = append(hdr, k+": "+v)
		}
	}
	slices.Sort(hdr)
	q := c.query
	if len(q) > show {
		q = q[:show] + "…"
	}
	return fmt.Sprintf("%s %s?%s chunked=%t headers=%q body=%q%s; want %v %q",
		c.method, c.path, q, c.chunked, hdr, body, suffix, c.want, c.wantType)
}

// send sends c and checks the answer. It returns the answer's
// "status error.type" and what is wrong with it.
func (c hostileCase) send(ctx context.Context, hc *http.Client, base string) (string, error) {
	u := base + c.path
	if c.query != "" {
		u += "?" + c.query
	}
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(body) // unknown length: sent chunked
		}
	}
	req, err := http.NewRequestWithContext(ctx, c.method, u, body)
	if err != nil {
		return "invalid-request", fmt.Errorf("building the request: %w", err)
	}
	for k, vs := range c.header {
		if k == "Host" {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "cancelled", nil
		}
		return "no-answer", fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "no-answer", fmt.Errorf("reading the answer: %w", err)
	}
	var env struct {
		OK    *bool `json:"ok"`
		Error *struct {
			Type      string `json:"type"`
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	key := strconv.Itoa(resp.StatusCode)
	if c.method == http.MethodHead {
		key += " (HEAD: no body)"
	} else {
		if err := json.Unmarshal(raw, &env); err != nil {
			return key + " not-json", fmt.Errorf("status %d: answer is not a JSON object: %v: %q", resp.StatusCode, err, raw)
		}
		if env.Error != nil {
			key += " " + env.Error.Type
		}
	}
	if err := c.check(resp, raw, env.OK, env.Error != nil); err != nil {
		return key, err
	}
	if env.Error != nil {
		if env.Error.Type == "" || env.Error.Message == "" {
			return key, fmt.Errorf("status %d: error without type or message: %s", resp.StatusCode, raw)
		}
		if id := resp.Header.Get("seam-request-id"); env.Error.RequestID != id {
			return key, fmt.Errorf("status %d: error.request_id %q, seam-request-id header %q", resp.StatusCode, env.Error.RequestID, id)
		}
		if c.wantType != "" && env.Error.Type != c.wantType {
			return key, fmt.Errorf("status %d: error.type %q, want %q: %s", resp.StatusCode, env.Error.Type, c.wantType, raw)
		}
	}
	return key, nil
}

// check checks what every answer must be: its status and envelope.
func (c hostileCase) check(resp *http.Response, raw []byte, ok *bool, isError bool) error {
	st := resp.StatusCode
	switch {
	case st >= 500:
		return fmt.Errorf("status %d: %s", st, raw)
	case !slices.Contains(c.want, st):
		return fmt.Errorf("status %d, want one of %v: %s", st, c.want, raw)
	case resp.Header.Get("seam-request-id") == "":
		return fmt.Errorf("status %d: no seam-request-id header", st)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
		return fmt.Errorf("status %d: Content-Type %q", st, resp.Header.Get("Content-Type"))
	case c.method == http.MethodHead:
		return nil
	case ok == nil:
		return fmt.Errorf("status %d: no \"ok\" member: %s", st, raw)
	case st < 300 && (!*ok || isError):
		return fmt.Errorf("status %d: want ok true and no error: %s", st, raw)
	case st >= 400 && (*ok || !isError):
		return fmt.Errorf("status %d: want ok false and an error: %s", st, raw)
	case st < 300 && c.other != "" && bytes.Contains(raw, []byte(c.other)):
		return fmt.Errorf("status %d: answer names workspace %s, which the caller is not in: %s", st, c.other, raw)
	}
	return nil
}

// A param is one member of a request, in the order written: a key may
// come twice. raw is JSON text.
type param struct{ key, raw string }

// paramKind is what a parameter holds.
type paramKind int

const (
	pkUUID paramKind = iota
	pkUUIDList
	pkInt
	pkBool
	pkString
	pkObject
)

type routeParam struct {
	name string
	kind paramKind
	// values are plausible strings for a pkString.
	values []string
}

type hostileRoute struct {
	path    string
	methods []string
	params  []routeParam
}

var timestamps = []string{"2026-11-25T10:00:00Z", "2026-11-28T10:00:00.000Z", "2026-13-45T99:00:00Z", "yesterday", "", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00"}

var hostileRoutes = []hostileRoute{
	{"/acs/encoders/encode_credential", []string{"POST"}, []routeParam{{"acs_credential_id", pkUUID, nil}, {"acs_encoder_id", pkUUID, nil}}},
	{"/action_attempts/get", []string{"GET", "POST"}, []routeParam{{"action_attempt_id", pkUUID, nil}}},
	{"/acs/encoders/list", []string{"GET", "POST"}, []routeParam{
		{"acs_system_id", pkUUID, nil}, {"acs_system_ids", pkUUIDList, nil}, {"acs_encoder_ids", pkUUIDList, nil},
		{"limit", pkInt, nil}, {"page_cursor", pkString, nil}}},
	{"/acs/encoders/get", []string{"GET", "POST"}, []routeParam{{"acs_encoder_id", pkUUID, nil}}},
	{"/acs/credentials/create", []string{"POST"}, []routeParam{
		{"acs_user_id", pkUUID, nil}, {"access_method", pkString, []string{"card", "code", "mobile_key", "CARD", "", "key"}},
		{"acs_system_id", pkUUID, nil}, {"code", pkString, []string{"1234", "", "12345678901234567890", "abcd"}},
		{"is_multi_phone_sync_credential", pkBool, nil}, {"starts_at", pkString, timestamps}, {"ends_at", pkString, timestamps},
		{"visionline_metadata", pkObject, nil}}},
	{"/acs/credentials/get", []string{"GET", "POST"}, []routeParam{{"acs_credential_id", pkUUID, nil}}},
	{"/acs/credentials/list", []string{"GET", "POST"}, []routeParam{{"acs_user_id", pkUUID, nil}, {"acs_system_id", pkUUID, nil},
		{"created_before", pkString, timestamps}, {"limit", pkInt, nil}, {"page_cursor", pkString, nil}}},
	{"/action_attempts/list", []string{"GET", "POST"}, []routeParam{{"action_attempt_ids", pkUUIDList, nil}, {"device_id", pkUUID, nil},
		{"limit", pkInt, nil}, {"page_cursor", pkString, nil}}},
	{"/acs/systems/list", []string{"GET", "POST"}, []routeParam{{"connected_account_id", pkUUID, nil},
		{"search", pkString, []string{"Hotel", "", "visionline", "%"}}, {"customer_key", pkString, []string{"customer-1", ""}}}},
	{"/acs/systems/get", []string{"GET", "POST"}, []routeParam{{"acs_system_id", pkUUID, nil}}},
	{"/events/list", []string{"GET", "POST"}, []routeParam{{"since", pkString, timestamps}, {"between", pkString, timestamps},
		{"event_type", pkString, []string{"acs_credential.issued", "acs_credential.deleted", "", "lock.locked"}},
		{"acs_credential_id", pkUUID, nil}, {"acs_system_id", pkUUID, nil}, {"device_id", pkUUID, nil}, {"limit", pkInt, nil}}},
	{"/events/get", []string{"GET", "POST"}, []routeParam{{"event_id", pkUUID, nil}}},
	{"/acs/users/list", []string{"GET", "POST"}, []routeParam{{"acs_system_id", pkUUID, nil},
		{"search", pkString, []string{"Guest", "", "jane"}}, {"created_before", pkString, timestamps},
		{"user_identity_id", pkUUID, nil}, {"limit", pkInt, nil}, {"page_cursor", pkString, nil}}},
	{"/acs/users/get", []string{"GET", "POST"}, []routeParam{{"acs_user_id", pkUUID, nil}, {"acs_system_id", pkUUID, nil}}},
	{"/acs/encoders/simulate/next_credential_encode_will_succeed", []string{"POST"}, []routeParam{
		{"acs_encoder_id", pkUUID, nil}, {"scenario", pkString, []string{"credential_is_issued", "credential_is_not_issued", ""}}}},
	{"/acs/encoders/simulate/next_credential_encode_will_fail", []string{"POST"}, []routeParam{
		{"acs_encoder_id", pkUUID, nil}, {"acs_credential_id", pkUUID, nil},
		{"error_code", pkString, []string{seam.ErrNoCredentialOnEncoder, seam.ErrUncategorized, seam.ErrActionAttemptExpired, "no_card_on_encoder", ""}}}},
}

// Paths no route answers (a few differ from a route only in case, a
// slash or a suffix).
var junkPaths = []string{"/", "/acs", "/acs/encoders", "/acs/encoders/list/", "/ACS/ENCODERS/LIST", "/acs//encoders/list",
	"/acs/encoders/get/../list", "/action_attempts/get.json", "/acs/encoders/list%00", "/acs/encoders/list%20",
	"/acs/credentials/remove", "/workspaces/get", "/acs/encoders/simulate"}

var otherMethods = []string{"PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "get", "post", "BREW"}

// Bodies that are not JSON objects, and the content types they go with.
var notObjects = []string{"hello", "<xml/>", "[1,2]", `"acs_encoder_id"`, "12", "true", "null", "acs_encoder_id=x",
	"\x00\x01\x02", "\xff\xfe{", "}{", "[{}]"}

var jsonTypes = []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json",
	"application/merge-patch+json", ""}

var otherTypes = []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
	"application/xml", "application/jsonx", "json", "application/json;;;=", "%%%", "text/json"}

// hostileGen generates requests from a seeded source.
type hostileGen struct {
	r   *rand.Rand
	ids hostileIDs
}

func (g *hostileGen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// chance is true with probability p.
func (g *hostileGen) chance(p float64) bool { return g.r.Float64() < p }

// next generates a request. Its expectation follows the order the server
// checks a request in: route, method, credentials, body, parameters.
func (g *hostileGen) next() hostileCase {
	c := hostileCase{header: http.Header{}}
	if g.chance(0.1) {
		return g.isolation(c)
	}
	rt := hostileRoutes[g.r.IntN(len(hostileRoutes))]
	c.path = rt.path
	c.method = g.pick(rt.methods)
	final := func(status int, typ string) hostileCase {
		c.want, c.wantType = []int{status}, typ
		return c
	}
	// Expectations, decided in the order the server checks.
	var want []int
	var wantType string
	decide := func(status int, typ string) {
		if want == nil {
			want, wantType = []int{status}, typ
		}
	}
	if g.chance(0.05) {
		c.path = g.pick(junkPaths)
		if g.chance(0.3) {
			c.path = "/" + g.junkPath()
		}
		decide(http.StatusNotFound, "endpoint_not_found")
	}
	if g.chance(0.06) {
		c.method = g.pick(otherMethods)
		decide(http.StatusMethodNotAllowed, "method_not_allowed")
	}
	status, typ, other := g.auth(c.header)
	c.other = other
	if status != 0 {
		decide(status, typ)
	}
	g.oddHeaders(c.header)

	params := g.params(rt)
	if c.method == http.MethodGet {
		c.query = g.query(params)
		if g.chance(0.05) {
			c.body = []byte(g.pick(notObjects)) // a GET's body is not read
		}
	} else {
		status, typ := g.body(&c, params)
		if status != 0 {
			decide(status, typ)
		}
		if g.chance(0.05) {
			c.query = g.query(g.params(rt)) // a POST's query string is not read
		}
	}
	if want != nil {
		return final(want[0], wantType)
	}
	c.want = []int{http.StatusOK, http.StatusBadRequest, http.StatusNotFound}
	return c
}

// auth sets the credentials of a request. It returns the refusal they
// deserve (0 when they are good) and the id of the workspace the caller
// is not in ("" when refused).
func (g *hostileGen) auth(h http.Header) (status int, typ, other string) {
	bearer := func(tok string) {
		scheme := g.pick([]string{"Bearer", "Bearer", "Bearer", "bearer", "BEARER"})
		sep := g.pick([]string{" ", " ", " ", "  ", " \t"})
		h.Set("Authorization", scheme+sep+headerSafe(tok)+g.pick([]string{"", "", "", " "}))
	}
	wsHeader := func(id string) {
		switch g.r.IntN(4) {
		case 0:
			id = strings.ToUpper(id)
		case 1:
			id = " " + id + " "
		}
		h.Set("seam-workspace", id)
	}
	refused := func(st int, t string) (int, string, string) { return st, t, "" }
	switch k := g.r.IntN(40); {
	case k < 20:
		bearer(key1)
		return 0, "", ws2
	case k < 26:
		bearer(key2)
		return 0, "", ws1
	case k < 29:
		bearer(pat1)
		wsHeader(ws1)
		return 0, "", ws2
	case k < 31:
		bearer(pat2)
		wsHeader(ws2)
		return 0, "", ws1
	case k < 32:
		bearer(g.pick([]string{pat1, pat2}))
		if g.chance(0.5) {
			h.Set("seam-workspace", g.pick([]string{"", " ", "\t"}))
		}
		return refused(http.StatusBadRequest, "missing_workspace_id")
	case k < 34:
		switch g.r.IntN(4) {
		case 0:
			bearer(pat1)
			wsHeader(ws2)
		case 1:
			bearer(pat2)
			wsHeader(ws1)
		case 2:
			bearer(pat1)
			h.Set("seam-workspace", g.randomUUID())
		default:
			bearer(pat2)
			h.Set("seam-workspace", "x"+headerSafe(g.oddString()))
		}
		return refused(http.StatusUnauthorized, "unauthorized")
	case k < 35:
		return refused(http.StatusUnauthorized, "unauthorized") // no Authorization
	case k < 37:
		h.Set("Authorization", g.pick([]string{"Basic " + base64.StdEncoding.EncodeToString([]byte(key1+":")),
			"Bearer", "Bearer ", "Bearer \t", key1, "Token " + key1, "Bearer:" + key1, "Bearer" + key1, "", "Bearer " + key1 + " " + key1}))
		return refused(http.StatusUnauthorized, "unauthorized")
	default:
		bearer(g.pick([]string{key1 + "x", key1[:len(key1)-1], strings.ToUpper(key1), "seam_testlab_3_TESTONLY_not_a_secret",
			strings.Repeat("k", 1+g.r.IntN(16<<10)), g.oddString(), ws1, "null"}))
		return refused(http.StatusUnauthorized, "unauthorized")
	}
}

// oddHeaders adds headers the server should not care about.
func (g *hostileGen) oddHeaders(h http.Header) {
	if !g.chance(0.15) {
		return
	}
	switch g.r.IntN(9) {
	case 0:
		h.Set("X-Padding", strings.Repeat("a", 1+g.r.IntN(64<<10)))
	case 1:
		for i := range 1 + g.r.IntN(100) {
			h.Set(fmt.Sprintf("X-Odd-%d", i), strconv.Itoa(g.r.Int()))
		}
	case 2:
		h.Set("X-Bytes", "caf\xe9 \xff\xfe")
	case 3:
		h.Add("Authorization", "Bearer not-the-first") // only the first counts
	case 4:
		h.Set("Connection", "close")
	case 5:
		h.Set("Expect", "100-continue")
	case 6:
		h.Set("Accept", g.pick([]string{"text/html", "application/xml", "*/*;q=0", "nothing"}))
	case 7:
		h.Set("Host", g.pick([]string{"example.invalid", "localhost:1", "[::1]:8450"}))
	default:
		h.Set("Accept-Encoding", "gzip, br, zstd")
	}
}

// params generates a route's parameters: mostly of the right kind (ids
// of either workspace, or of none), some of the wrong one, some left
// out, some twice, and some the route does not know.
func (g *hostileGen) params(rt hostileRoute) []param {
	var ps []param
	for _, p := range rt.params {
		if g.chance(0.15) {
			continue
		}
		ps = append(ps, param{p.name, g.value(p)})
		if g.chance(0.03) {
			ps = append(ps, param{p.name, g.value(p)}) // twice
		}
	}
	if g.chance(0.1) {
		ps = append(ps, param{g.pick([]string{"unknown", "acs_encoder", "__proto__", "constructor", "ok", "error", "ACS_ENCODER_ID", ""}), g.wrongType()})
	}
	g.r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	return ps
}

func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

func (g *hostileGen) value(p routeParam) string {
	if g.chance(0.12) {
		return g.wrongType()
	}
	switch p.kind {
	case pkUUID:
		return quote(g.uuidish())
	case pkUUIDList:
		items := make([]string, g.r.IntN(4))
		for i := range items {
			items[i] = quote(g.uuidish())
			if g.chance(0.05) {
				items[i] = g.wrongType()
			}
		}
		return "[" + strings.Join(items, ",") + "]"
	case pkInt:
		return g.pick([]string{"1", "2", "3", "100", "0", "-1", "1.5", "1e3", "99999999999999999999", `"2"`, "007"})
	case pkBool:
		return g.pick([]string{"true", "false", `"true"`, "1", "0"})
	case pkObject:
		members := []string{}
		if g.chance(0.8) {
			members = append(members, `"card_function_type":`+quote(g.pick([]string{"guest", "staff", "master", ""})))
		}
		if g.chance(0.5) {
			members = append(members, `"auto_join":`+g.pick([]string{"true", "false", `"yes"`, "null"}))
		}
		return "{" + strings.Join(members, ",") + "}"
	}
	if p.name == "page_cursor" {
		return quote(g.pick([]string{
			base64.RawURLEncoding.EncodeToString([]byte(frontDesk2)),
			base64.RawURLEncoding.EncodeToString([]byte(nfcDesk1)),
			"", "not-a-cursor", "====", g.oddString()}))
	}
	if g.chance(0.1) {
		return quote(g.oddString())
	}
	return quote(g.pick(p.values))
}

// uuidish is an id: one of either workspace's, a random one, or a UUID
// in a form the API does not take.
func (g *hostileGen) uuidish() string {
	id := g.pick([]string{frontDesk1, frontDesk2, nfcDesk1, visionline1, vostio1, visionline2, guest1, staff1, vostioUser1, guest2,
		g.ids.cred1, g.ids.cred2, g.ids.att1, ws1, ws2, g.randomUUID(), "00000000-0000-0000-0000-000000000000"})
	if !g.chance(0.15) {
		return id
	}
	switch g.r.IntN(12) {
	case 0:
		return strings.ToUpper(id)
	case 1:
		return "{" + id + "}"
	case 2:
		return "urn:uuid:" + id
	case 3:
		return strings.ReplaceAll(id, "-", "")
	case 4:
		return " " + id
	case 5:
		return id[:35]
	case 6:
		return id + "0"
	case 7:
		return strings.Repeat("x", 8) + id[8:]
	case 8:
		return strings.Repeat("é", 18)
	case 9:
		return strings.Repeat(id, 1+g.r.IntN(300))
	case 10:
		return ""
	}
	return g.oddString()
}

func (g *hostileGen) randomUUID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// wrongType is a JSON value of some type, most likely not the one wanted.
func (g *hostileGen) wrongType() string {
	switch g.r.IntN(16) {
	case 0:
		return strings.Repeat("[", 200) + strings.Repeat("]", 200)
	case 1:
		depth := 10001 // past encoding/json's nesting limit
		return strings.Repeat("[", depth) + strings.Repeat("]", depth)
	case 2:
		return quote(g.oddString())
	}
	return g.pick([]string{"1", "-1", "1.5", "1e400", "true", "false", "[]", "{}", `["x"]`, `{"a":1}`, `""`, `"\u0000"`, "0"})
}

// oddString is text that tends to break parsers.
func (g *hostileGen) oddString() string {
	switch g.r.IntN(8) {
	case 0:
		return strings.Repeat("A", g.r.IntN(100<<10))
	case 1:
		b := make([]byte, g.r.IntN(64))
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		return string(b)
	}
	return g.pick([]string{"", " ", "\x00", "\u202e", "%00", "../../etc/passwd", "'; DROP TABLE credentials; --", "\\u0000",
		"😀", "\r\n", "null", "NaN", "-0"})
}

// headerSafe drops the bytes an HTTP client refuses to put in a header
// value (controls other than tab), keeping the rest of s as odd as it is.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func (g *hostileGen) junkPath() string {
	const chars = "abcdefghijklmnopqrstuvwxyz_/.-"
	b := make([]byte, 1+g.r.IntN(200))
	for i := range b {
		b[i] = chars[g.r.IntN(len(chars))]
	}
	return string(b)
}

// query writes params as a query string: a list as repeated keys (or
// key[]), a string as its text, anything else as its JSON text.
func (g *hostileGen) query(ps []param) string {
	var parts []string
	for _, p := range ps {
		key := url.QueryEscape(p.key)
		var items []string
		if strings.HasPrefix(p.raw, "[") && json.Unmarshal([]byte(p.raw), &items) == nil {
			if g.chance(0.5) {
				key += "%5B%5D"
			}
			if len(items) == 0 {
				parts = append(parts, key+"=")
			}
			for _, it := range items {
				parts = append(parts, key+"="+url.QueryEscape(it))
			}
			continue
		}
		var s string
		if json.Unmarshal([]byte(p.raw), &s) != nil {
			s = p.raw
		}
		parts = append(parts, key+"="+url.QueryEscape(s))
	}
	if g.chance(0.05) {
		parts = append(parts, g.pick([]string{"%zz", "a;b", "=", "&&", "x=%", "acs_encoder_id", "limit=1&limit=2"}))
	}
	return strings.Join(parts, "&")
}

// body writes a POST's body from params, or something else; it returns
// the refusal the body deserves, 0 when the parameters decide.
func (g *hostileGen) body(c *hostileCase, ps []param) (int, string) {
	object := func() []byte {
		members := make([]string, len(ps))
		for i, p := range ps {
			members[i] = quote(p.key) + ":" + p.raw
		}
		return []byte("{" + strings.Join(members, ",") + "}")
	}
	c.chunked = g.chance(0.1)
	ct := g.pick(jsonTypes)
	defer func() {
		if ct != "" {
			c.header.Set("Content-Type", ct)
		}
	}()
	invalid := func() (int, string) { return http.StatusBadRequest, "invalid_input" }
	switch k := g.r.IntN(1000); {
	case k < 2: // past the 1 MiB limit
		b := object()
		pad := []byte(`{"padding":"` + strings.Repeat("p", 1<<20) + `",`)
		c.body = append(pad, b[1:]...)
		if len(ps) == 0 {
			c.body = append(pad[:len(pad)-1], '}')
		}
		return http.StatusRequestEntityTooLarge, "payload_too_large"
	case k < 60:
		c.body = []byte(g.pick(notObjects))
		return invalid()
	case k < 110:
		b := object()
		c.body = b[:1+g.r.IntN(len(b)-1)] // truncated
		return invalid()
	case k < 130:
		c.body = append(object(), g.pick([]string{" {}", "x", ",", "]", "\x00"})...)
		return invalid()
	case k < 170:
		c.body = object()
		ct = g.pick(otherTypes)
		return invalid()
	case k < 200:
		c.body = []byte(g.pick([]string{"", " ", "\n\t ", "{}", " { } "}))
		if len(bytes.TrimSpace(c.body)) == 0 {
			ct = g.pick(append(otherTypes, jsonTypes...)) // an empty body has no type to check
		}
		return 0, ""
	}
	c.body = object()
	if g.chance(0.05) {
		c.body = append(append([]byte(" \n"), c.body...), " \n"...)
	}
	return 0, ""
}

// isolation is a well-formed request from one workspace naming a
// resource of the other: the answer is the not-found the caller would
// get for an id that exists nowhere.
func (g *hostileGen) isolation(c hostileCase) hostileCase {
	type probe struct {
		path   string
		params map[string]string
		status int
		typ    string
	}
	ids := g.ids
	var probes []probe
	ws1Acts := g.chance(0.5)
	if ws1Acts {
		probes = []probe{
			{"/acs/credentials/get", map[string]string{"acs_credential_id": ids.cred2}, 404, "acs_credential_not_found"},
			{"/acs/encoders/encode_credential", map[string]string{"acs_credential_id": ids.cred2, "acs_encoder_id": frontDesk1}, 404, "acs_credential_not_found"},
			{"/acs/credentials/create", map[string]string{"acs_user_id": guest2, "access_method": "card"}, 404, "acs_user_not_found"},
			{"/acs/encoders/simulate/next_credential_encode_will_fail",
				map[string]string{"acs_encoder_id": frontDesk1, "error_code": seam.ErrUncategorized, "acs_credential_id": ids.cred2}, 404, "acs_credential_not_found"},
			{"/acs/credentials/list", map[string]string{"acs_system_id": visionline2}, 200, ""},
			{"/acs/credentials/list", map[string]string{"acs_user_id": guest2}, 200, ""},
		}
	} else {
		probes = []probe{
			{"/acs/credentials/get", map[string]string{"acs_credential_id": ids.cred1}, 404, "acs_credential_not_found"},
			{"/acs/encoders/get", map[string]string{"acs_encoder_id": frontDesk1}, 404, "acs_encoder_not_found"},
			{"/action_attempts/get", map[string]string{"action_attempt_id": ids.att1}, 404, "action_attempt_not_found"},
			{"/acs/encoders/encode_credential", map[string]string{"acs_credential_id": ids.cred2, "acs_encoder_id": frontDesk1}, 404, "acs_encoder_not_found"},
			{"/acs/encoders/encode_credential", map[string]string{"acs_credential_id": ids.cred1, "acs_encoder_id": nfcDesk1}, 404, "acs_encoder_not_found"},
			// The second workspace is no sandbox: refused before any
			// id is looked at, so the answer tells nothing of the other.
			{"/acs/encoders/simulate/next_credential_encode_will_succeed", map[string]string{"acs_encoder_id": frontDesk1}, 400, "sandbox_only"},
			{"/acs/credentials/create", map[string]string{"acs_user_id": guest1, "access_method": "card"}, 404, "acs_user_not_found"},
			{"/acs/encoders/list", map[string]string{"acs_system_id": visionline1}, 200, ""},
			{"/acs/credentials/list", map[string]string{"acs_user_id": guest1}, 200, ""},
		}
	}
	p := probes[g.r.IntN(len(probes))]
	key, patWS, other := key1, ws1, ws2
	if !ws1Acts {
		key, patWS, other = key2, ws2, ws1
	}
	if g.chance(0.3) { // a personal access token instead of the API key
		key = pat1
		if !ws1Acts {
			key = pat2
		}
		c.header.Set("seam-workspace", patWS)
	}
	c.header.Set("Authorization", "Bearer "+key)
	c.path, c.other = p.path, other
	c.want, c.wantType = []int{p.status}, p.typ
	read := slices.ContainsFunc(hostileRoutes, func(r hostileRoute) bool { return r.path == p.path && slices.Contains(r.methods, "GET") })
	if read && g.chance(0.5) {
		c.method = http.MethodGet
		q := url.Values{}
		for k, v := range p.params {
			q.Set(k, v)
		}
		c.query = q.Encode()
		return c
	}
	c.method = http.MethodPost
	c.body, _ = json.Marshal(p.params)
	c.header.Set("Content-Type", "application/json")
	return c
}
