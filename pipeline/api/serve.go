package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/google/uuid"
)

// request is what a route handler gets: the workspace the caller acts in
// and the parameters it sent.
type request struct {
	ws      *fixtures.Workspace
	profile seam.Profile // the revision of the API ws is served
	params  params
}

// result is a success body; ServeHTTP adds "ok": true.
type result map[string]any

type handler func(ctx context.Context, rq request) (result, error)

// route is one endpoint: the methods it answers and its handler.
type route struct {
	methods []string
	handle  handler
}

var (
	read   = []string{http.MethodGet, http.MethodPost}
	action = []string{http.MethodPost}
	remove = []string{http.MethodDelete, http.MethodPost}
	modify = []string{http.MethodPatch, http.MethodPost}
)

func (s *server) routeTable() map[string]route {
	return map[string]route{
		"/acs/encoders/encode_credential": {action, s.encodeCredential},
		"/acs/encoders/scan_credential":   {action, s.scanCredential},
		"/action_attempts/get":            {read, s.getActionAttempt},
		"/acs/encoders/list":              {read, s.listEncoders},
		"/acs/encoders/get":               {read, s.getEncoder},
		"/acs/credentials/create":         {action, s.createCredential},
		"/acs/credentials/get":            {read, s.getCredential},
		"/acs/credentials/list":           {read, s.listCredentials},
		"/acs/credentials/delete":         {remove, s.deleteCredential},
		"/acs/credentials/update":         {modify, s.updateCredential},
		"/action_attempts/list":           {read, s.listActionAttempts},
		"/events/list":                    {read, s.listEvents},
		"/events/get":                     {read, s.getEvent},
		"/acs/systems/list":               {read, s.listSystems},
		"/acs/systems/get":                {read, s.getSystem},
		"/acs/users/list":                 {read, s.listUsers},
		"/acs/users/get":                  {read, s.getUser},
		"/acs/encoders/simulate/next_credential_encode_will_succeed": {action, s.simulateSuccess},
		"/acs/encoders/simulate/next_credential_encode_will_fail":    {action, s.simulateFailure},
		"/acs/encoders/simulate/next_credential_scan_will_succeed":   {action, s.simulateScanSuccess},
		"/acs/encoders/simulate/next_credential_scan_will_fail":      {action, s.simulateScanFailure},
	}
}

// exchange is one request in flight: its id, and what the log record
// needs once the answer is written.
type exchange struct {
	w         http.ResponseWriter
	id        string
	status    int
	workspace string
	err       error
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := &exchange{w: w, id: uuid.NewString()}
	w.Header().Set("seam-request-id", x.id)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("request_id", x.id), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			if x.status == 0 {
				s.writeError(x, errors.New("internal error"))
			}
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", x.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", x.id),
		}
		if x.workspace != "" {
			attrs = append(attrs, slog.String("workspace_id", x.workspace))
		}
		level := slog.LevelInfo
		switch {
		case x.status == http.StatusServiceUnavailable:
			// Refused on purpose (draining, or the store cannot write):
			// worth seeing, not a fault of the server.
			level = slog.LevelWarn
			if x.err != nil {
				attrs = append(attrs, slog.Any("error", x.err))
			}
		case x.status >= 500:
			level = slog.LevelError
			attrs = append(attrs, slog.Any("error", x.err))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}()
	s.serve(x, r)
}

func (s *server) serve(x *exchange, r *http.Request) {
	rt, ok := s.routes[r.URL.Path]
	if !ok {
		s.refuse(x, r, &seam.Error{Status: http.StatusNotFound, Type: "endpoint_not_found",
			Message: fmt.Sprintf("no endpoint %s", r.URL.Path)})
		return
	}
	if !allowed(rt.methods, r.Method) {
		x.w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		s.refuse(x, r, &seam.Error{Status: http.StatusMethodNotAllowed, Type: "method_not_allowed",
			Message: fmt.Sprintf("%s does not accept %s; use %s", r.URL.Path, r.Method, strings.Join(rt.methods, " or "))})
		return
	}
	ws, err := s.authenticate(r)
	if err != nil {
		s.refuse(x, r, err)
		return
	}
	x.workspace = ws.ID
	p, err := readParams(x.w, r, s.maxBody)
	if err != nil {
		s.writeError(x, seedRefusal(seam.Profile(ws.Profile), err))
		return
	}
	res, err := rt.handle(r.Context(), request{ws: ws, profile: seam.Profile(ws.Profile), params: p})
	if err != nil {
		s.writeError(x, err)
		return
	}
	res["ok"] = true
	s.write(x, http.StatusOK, res)
}

// seedRefusal is err as a workspace of profile p sees it: the seeds know
// a body that is not JSON only as invalid_input; the latest profile has
// invalid_content_type for it.
func seedRefusal(p seam.Profile, err error) error {
	se, ok := errors.AsType[*seam.Error](err)
	if !ok || se.Type != typeInvalidContentType || p == seam.ProfileLatest {
		return err
	}
	seed := *se
	seed.Type = "invalid_input"
	return &seed
}

// refuse answers err to a request whose body was not read. It reads the
// body first, up to the body limit: a client that is still sending (a
// large body, a "Connection: close" request) then finishes and reads the
// answer, instead of having the connection reset under it.
func (s *server) refuse(x *exchange, r *http.Request, err error) {
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(x.w, r.Body, s.maxBody))
	s.writeError(x, err)
}

func allowed(methods []string, m string) bool {
	for _, a := range methods {
		if a == m {
			return true
		}
	}
	return false
}

// errorBody is Seam's error envelope.
type errorBody struct {
	Error errorDetail `json:"error"`
	OK    bool        `json:"ok"`
}

type errorDetail struct {
	Type             string                 `json:"type"`
	Message          string                 `json:"message"`
	RequestID        string                 `json:"request_id"`
	ValidationErrors *seam.ValidationErrors `json:"validation_errors,omitempty"`
}

// writeError answers err: a *seam.Error as itself, anything else as a
// 500 internal_error whose detail stays in the log.
func (s *server) writeError(x *exchange, err error) {
	se, ok := errors.AsType[*seam.Error](err)
	if !ok && errors.Is(err, store.ErrUnavailable) {
		x.err = err
		se, ok = &seam.Error{Status: http.StatusServiceUnavailable, Type: "service_unavailable",
			Message: "the server cannot write to its store now; retry later (request " + x.id + ")"}, true
	}
	if !ok {
		x.err = err
		se = &seam.Error{Status: http.StatusInternalServerError, Type: "internal_error",
			Message: "internal error; see the server log for request " + x.id}
	}
	s.write(x, se.Status, errorBody{Error: errorDetail{Type: se.Type, Message: se.Message, RequestID: x.id,
		ValidationErrors: se.Validation}})
}

func (s *server) write(x *exchange, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		x.err = fmt.Errorf("encoding response: %w", err)
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: errorDetail{Type: "internal_error",
			Message: "internal error; see the server log for request " + x.id, RequestID: x.id}})
	}
	x.status = status
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	x.w.WriteHeader(status)
	x.w.Write(append(b, '\n')) // a failed write means the client left; nothing to tell it.
}
