package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/api"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store/sqlite"
)

// FuzzRequest hands the API arbitrary requests: method, path, query
// string, headers ("Name: value" lines) and body. Every answer is the
// Seam envelope with a status below 500: a panic recovered would be a
// 500 internal_error.
func FuzzRequest(f *testing.F) {
	lab := fixtures.Bundled()
	st, err := sqlite.Open(filepath.Join(f.TempDir(), "encoderlab.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	reg := registry{lab}
	h := api.New(api.Deps{
		Lab:          lab,
		Store:        st,
		Encoding:     &encoding{encoders: reg, attempts: map[string]*seam.ActionAttempt{}},
		Encoders:     reg,
		Logger:       slog.New(slog.DiscardHandler),
		MaxBodyBytes: 4096,
	})

	auth := "Authorization: Bearer " + key1 + "\nContent-Type: application/json"
	f.Add("POST", "/acs/credentials/create", "", auth, []byte(`{"acs_user_id":"`+guest1+`","access_method":"card","visionline_metadata":{"card_function_type":"guest","auto_join":true}}`))
	f.Add("POST", "/acs/encoders/encode_credential", "", auth, []byte(`{"acs_credential_id":"`+guest1+`","acs_encoder_id":"`+frontDesk1+`"}`))
	f.Add("GET", "/acs/encoders/list", "acs_system_ids[]="+visionline1+"&limit=1&page_cursor=x", auth, []byte(nil))
	f.Add("GET", "/acs/credentials/list", "acs_user_id=&acs_user_id=", "Authorization: Bearer "+pat1+"\nseam-workspace: "+ws2, []byte(nil))
	f.Add("POST", "/acs/encoders/simulate/next_credential_encode_will_fail", "", auth, []byte(`{"acs_encoder_id":"`+frontDesk1+`","error_code":"uncategorized_error","acs_credential_id":null}`))
	f.Add("PUT", "/action_attempts/get", "", auth, []byte(`{"action_attempt_id":1}`))
	f.Add("POST", "/acs/encoders/get", "", "Authorization: Bearer "+key2+"\nContent-Type: text/plain", []byte(`{"acs_encoder_id":"`+frontDesk1+`"} {}`))
	f.Add("POST", "/acs/credentials/get", "", auth, []byte(`{"acs_credential_id":"`+strings.ToUpper(guest1)+`","acs_credential_id":[]`))
	f.Add("DELETE", "/acs/credentials/delete", "acs_credential_id="+guest1, auth, []byte(nil))
	f.Add("PATCH", "/acs/credentials/update", "", auth, []byte(`{"acs_credential_id":"`+guest1+`","ends_at":"2030-01-01T00:00:00Z","code":"12a"}`))
	f.Add("GET", "/events/list", "between=2026-01-01T00:00:00Z&between=x&event_types=", auth, []byte(nil))
	f.Add("POST", "/acs/users/list", "", auth, []byte(`{"search":"","limit":0,"page_cursor":null,"created_before":"soon"}`))
	f.Fuzz(func(t *testing.T, method, path, query, header string, body []byte) {
		r := &http.Request{
			Method:        method,
			URL:           &url.URL{Path: path, RawQuery: query},
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Host:       "encoderd.test",
			RemoteAddr: "192.0.2.1:1234",
		}
		r = r.WithContext(t.Context())
		for line := range strings.Lines(header) {
			if k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":"); ok {
				r.Header.Add(k, strings.TrimSpace(v))
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		if w.Code >= 500 || w.Code < 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
		}
		if w.Header().Get("seam-request-id") == "" {
			t.Fatalf("status %d without a seam-request-id", w.Code)
		}
		var env struct {
			OK    *bool `json:"ok"`
			Error *struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.OK == nil {
			t.Fatalf("status %d: not the envelope (%v): %q", w.Code, err, w.Body.Bytes())
		}
		if isErr := w.Code >= 400; *env.OK == isErr || (env.Error != nil) != isErr || (isErr && env.Error.Type == "") {
			t.Fatalf("status %d: envelope %s", w.Code, w.Body.Bytes())
		}
	})
}
