package conformance

import (
	"encoding/json"
	"fmt"
	"mime"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// applies reports whether a scenario's run can show whether req holds:
// the scenario produces what the requirement is about.
func applies(req Requirement, sc *scenario.Scenario, sys *fixtures.System) bool {
	c := req.Check
	// The requirements but the scan kind's are of encode_credential
	// calls; scans are judged by their own (scan.go) and by the scenario.
	has := func(f func(e scenario.Encode) bool) bool {
		for _, e := range sc.Encodes {
			if !e.Scan && f(e) {
				return true
			}
		}
		return false
	}
	attempt := func(e scenario.Encode) bool { return e.Expect.HTTPStatus == 200 }
	// An encode expecting any status may end either way: what is checked
	// of either applies.
	success := func(e scenario.Encode) bool {
		return attempt(e) && (e.Expect.Status == "success" || e.Expect.Status == scenario.StatusAny)
	}
	failure := func(e scenario.Encode) bool {
		return attempt(e) && (e.Expect.Status == "error" || e.Expect.Status == scenario.StatusAny)
	}
	switch c.Kind {
	case "field":
		if !brandApplies(c.Path, sys) {
			return false
		}
		switch {
		case strings.HasPrefix(c.Path, "result."), c.When == "success":
			return has(success)
		case strings.HasPrefix(c.Path, "error."), c.When == "error":
			return has(failure)
		}
		return has(attempt)
	case "status-invariant":
		switch c.Status {
		case "success":
			return has(success)
		case "error":
			return has(failure)
		}
		return has(attempt)
	case "outcome":
		if c.Status == "success" {
			return has(success)
		}
		return has(func(e scenario.Encode) bool { return failure(e) && e.Expect.ErrorType == c.ErrorType })
	case "issue-effect":
		switch c.Effect {
		case "unchanged-on-error":
			return has(failure)
		case "visionline-card-id":
			return sys.ExternalType == "visionline_card" && has(success)
		case "vostio-key-id":
			return sys.ExternalType == "assa_abloy_vostio_key" && has(success)
		case "waiting-before":
			return has(attempt)
		}
		return has(success)
	case "lifecycle":
		if c.Rule == "one-encode-per-call" {
			// Only a scenario that says how many commands its encoder
			// must see can tell an extra encode from a retry.
			for _, e := range sc.AllEncoders() {
				if e.Commands != nil {
					return true
				}
			}
			return false
		}
		if c.Rule == "attempt-id-unique" {
			n := 0
			for _, e := range sc.Encodes {
				if attempt(e) {
					n++
				}
			}
			return n >= 2
		}
		return has(attempt)
	case "scenario":
		return true
	case "scan":
		return scanApplies(sc)
	case "events":
		return has(attempt) || sc.DeletesCredential()
	case "invariant":
		if c.Rule == "one-command-at-a-time" {
			// A model whose protocol allows one command at a time counts
			// what breaks it (model.Model.OneCommand: the PMS model, pms.md
			// "Session"); a scenario of the replay model scripts its own
			// host side.
			return has(attempt) && slices.ContainsFunc(sc.AllEncoders(), func(e scenario.Encoder) bool {
				m, _ := model.Lookup(e.Model)
				return m.OneCommand
			})
		}
		return invariantApplies(c.Rule, sys, has(success), has(failure), has(attempt))
	case "unknown-id":
		return has(func(e scenario.Encode) bool {
			return e.Expect.HTTPStatus == 404 && e.Expect.ErrorType == c.ErrorType
		})
	case "convention":
		switch c.Rule {
		case "error-envelope":
			return has(func(e scenario.Encode) bool { return e.Expect.HTTPStatus != 200 })
		case "get-and-post":
			return has(attempt)
		}
		return true
	}
	return false
}

// brandApplies keeps brand metadata fields to systems of that brand.
func brandApplies(path string, sys *fixtures.System) bool {
	switch {
	case strings.Contains(path, "visionline_metadata"):
		return sys.ExternalType == "visionline_card"
	case strings.Contains(path, "assa_abloy_vostio_metadata"):
		return sys.ExternalType == "assa_abloy_vostio_key"
	}
	return true
}

// verify checks req against a scenario's recording and returns every
// problem, each naming the encode and the answer it is about.
func verify(req Requirement, rec *recording, cfg *Config) []string {
	c := req.Check
	var problems []string
	bad := func(er *encodeRecord, format string, args ...any) {
		where := rec.sc.File
		if er != nil {
			where = er.where(rec.sc)
		}
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	// The requirements are of the encode_credential calls, but the
	// conventions hold of every answer, a scan's too.
	calls := rec.encodes
	if c.Kind == "convention" {
		calls = rec.calls()
	}
	for _, er := range calls {
		x := er.encode.Expect
		isAttempt := x.HTTPStatus == 200
		if er.turnedAway(rec.sc) && c.Kind != "convention" {
			// No attempt came of the call: the scenario's expectation
			// judges whether that may be, the invariants what it did.
			continue
		}
		switch c.Kind {
		case "field":
			for _, a := range er.attempts() {
				if c.When != "" && a.v["status"] != c.When {
					continue
				}
				if msg := missingCarrier(c, a.v); msg != "" {
					bad(er, "%s: %s", a.what, msg)
					continue
				}
				for _, p := range checkField(c, a.v) {
					bad(er, "%s: %s", a.what, p)
				}
			}
			if strings.HasPrefix(c.Path, "result.") && er.after != nil {
				for _, p := range checkCredentialField(c, er.after) {
					bad(er, "/acs/credentials/get after the encode: %s", p)
				}
			}
			for _, p := range checkRelational(c, rec, er) {
				bad(er, "%s", p)
			}
		case "status-invariant":
			for _, a := range er.attempts() {
				if a.v["status"] != c.Status {
					continue
				}
				if msg := invariant(c.Status, a.v); msg != "" {
					bad(er, "%s: %s: %s", a.what, msg, compact(a.v))
				}
			}
		case "outcome":
			if !isAttempt || x.Status != outcomeStatus(c) || (c.ErrorType != "" && x.ErrorType != c.ErrorType) {
				continue
			}
			if er.final == nil {
				bad(er, "the attempt never ended; want %s", describe(x))
				continue
			}
			got := fmt.Sprint(er.final["status"])
			if e, ok := er.final["error"].(map[string]any); ok {
				got += " " + fmt.Sprint(e["type"])
			}
			if got != strings.TrimSpace(x.Status+" "+x.ErrorType) {
				bad(er, "the attempt ended %s; want %s: %s", got, describe(x), compact(er.final))
			}
			if x.Written != "" && !rec.hardware && er.cardAfter.Kind != x.Written {
				bad(er, "card %s holds %s afterwards; want %s", x.Card, er.cardAfter.Kind, x.Written)
			}
			if x.Status == "error" && x.Card != "" && !rec.hardware && er.cardAfter.Writes != er.cardBefore.Writes {
				bad(er, "the failed encode wrote card %s", x.Card)
			}
		case "issue-effect":
			if !isAttempt {
				continue
			}
			if c.Effect == "waiting-before" {
				if msg := waitingBefore(er.before, rec); msg != "" {
					bad(er, "%s", msg)
				}
				continue
			}
			if c.Effect == "unchanged-on-error" {
				if rec.sc.DeletesCredential() {
					// Deleted by the timeline: the change is that it is gone.
					if er.expects("error") && er.after != nil {
						bad(er, "the credential reads %s after the scenario deleted it; want it gone (acs_credential_not_found)", compact(er.after))
					}
					continue
				}
				// Beside other encodes, the credential may change by theirs.
				if er.expects("error") && !er.overlapped && !reflect.DeepEqual(er.after, er.before) {
					bad(er, "the credential changed although the encode failed:\n  before %s\n  after  %s", compact(er.before), compact(er.after))
				}
				continue
			}
			if !er.expects("success") {
				continue
			}
			if er.final == nil || er.final["status"] != "success" {
				bad(er, "no successful attempt to check: %s", compact(er.final))
				continue
			}
			result, _ := er.final["result"].(map[string]any)
			if msg := issueEffect(c.Effect, result, er, rec); msg != "" {
				bad(er, "%s", msg)
			}
		case "lifecycle":
			if !isAttempt {
				continue
			}
			switch c.Rule {
			case "pending-first":
				a, err := attemptOf(er.first)
				if er.first.Status != 200 || err != nil {
					bad(er, "encode_credential did not return an action attempt: %s", er.first)
				} else if a["status"] != "pending" && a["status"] != "success" && a["status"] != "error" {
					bad(er, "encode_credential returned an attempt with status %v", a["status"])
				}
				// Judged against the device, not the clock: an answer that
				// came after the virtual encoder finished writing the card
				// waited for the encode.
				if !rec.hardware && er.cardAfter.Writes > er.cardBefore.Writes && !er.first.Received.Before(er.cardWritten) {
					bad(er, "encode_credential answered %v after the encoder finished writing card %s: it waited for the encode",
						er.first.Received.Sub(er.cardWritten).Round(time.Microsecond), x.Card)
				}
			case "same-attempt":
				first, err := attemptOf(er.first)
				if err != nil {
					continue // pending-first reports it
				}
				for _, a := range er.attempts()[1:] {
					if a.v["action_attempt_id"] != first["action_attempt_id"] {
						bad(er, "%s asked for action attempt %v and got %v: %s", a.what, first["action_attempt_id"], a.v["action_attempt_id"], compact(a.v))
					}
				}
			case "one-terminal":
				if er.final == nil {
					bad(er, "the attempt never reached a terminal status (%d answers, last %s)", len(er.polls), last(er.polls))
					continue
				}
				again, err := attemptOf(er.again)
				if err != nil || !reflect.DeepEqual(again, er.final) {
					bad(er, "the terminal attempt changed:\n  first %s\n  then  %s", compact(er.final), er.again)
				}
			case "deadline":
				// The server created the attempt before its answer to the
				// call arrived, so its deadline is at most that arrival
				// plus the (scaled) attempt deadline. A poll sent after
				// that must find the attempt terminal: no margin for the
				// machine to eat, and none the server may use.
				d := cfg.TimeScale.Of(cfg.AttemptDeadline)
				due := er.first.Received.Add(d)
				for i, p := range er.polls {
					a, err := attemptOf(p)
					if err != nil || !p.Sent.After(due) || a["status"] != "pending" {
						continue
					}
					bad(er, "action_attempts/get #%d, sent %v after the encode call was answered, found the attempt pending past its %v deadline",
						i+1, p.Sent.Sub(er.first.Received).Round(time.Millisecond), d)
					break
				}
				if er.final == nil {
					bad(er, "the attempt was still pending %v after the encode call, past its %v deadline", er.ended.Sub(er.started).Round(time.Millisecond), d)
				}
			}
		case "unknown-id":
			if x.HTTPStatus != 404 || x.ErrorType != c.ErrorType {
				continue
			}
			if msg := apiError(er.first, 404, c.ErrorType); msg != "" {
				bad(er, "%s", msg)
			}
		case "convention":
			for _, r := range er.responses() {
				if msg := convention(c.Rule, r); msg != "" {
					bad(er, "%s", msg)
				}
			}
		}
	}
	if c.Kind == "scenario" {
		problems = append(problems, scenarioProblems(rec)...)
	}
	if c.Kind == "invariant" {
		problems = append(problems, invariantProblems(c.Rule, rec)...)
	}
	if c.Kind == "events" {
		problems = append(problems, eventProblems(rec)...)
	}
	if c.Kind == "scan" {
		problems = append(problems, scanProblems(c.Rule, rec, cfg)...)
	}
	if c.Kind == "lifecycle" && c.Rule == "one-encode-per-call" && rec.commands != nil {
		problems = append(problems, rec.sc.File+": "+rec.commands.Error())
	}
	if c.Kind == "lifecycle" && c.Rule == "attempt-id-unique" {
		seen := map[any]int{}
		for _, er := range rec.encodes {
			if er.first == nil {
				continue
			}
			if a, err := attemptOf(er.first); err == nil && er.first.Status == 200 {
				if prev, dup := seen[a["action_attempt_id"]]; dup {
					bad(er, "action_attempt_id %v was already returned by encode %d", a["action_attempt_id"], prev+1)
				}
				seen[a["action_attempt_id"]] = er.index
			}
		}
	}
	if c.Kind == "convention" && rec.created != nil {
		if msg := convention(c.Rule, rec.created); msg != "" {
			problems = append(problems, rec.sc.File+": "+msg)
		}
	}
	return problems
}

func outcomeStatus(c Check) string {
	if c.Status != "" {
		return c.Status
	}
	return "error"
}

// responses are every API answer an encode record holds.
func (e *encodeRecord) responses() []*response {
	var out []*response
	if e.first != nil {
		out = append(out, e.first)
	}
	out = append(out, e.polls...)
	if e.again != nil {
		out = append(out, e.again)
	}
	return out
}

// invariant returns what breaks the status invariant of REFERENCE §1, or "".
func invariant(status string, a map[string]any) string {
	result, hasResult := a["result"]
	errv, hasError := a["error"]
	switch {
	case !hasResult || !hasError:
		return "result and error must both be present (null when they do not apply)"
	case status == "pending" && (result != nil || errv != nil):
		return "a pending attempt has result null and error null"
	case status == "success" && errv != nil:
		return "a successful attempt has error null"
	case status == "success":
		if _, ok := result.(map[string]any); !ok {
			return "a successful attempt has the credential as result"
		}
	case status == "error" && result != nil:
		return "a failed attempt has result null"
	case status == "error":
		e, ok := errv.(map[string]any)
		if !ok {
			return "a failed attempt has an error object"
		}
		if _, ok := e["type"].(string); !ok {
			return "a failed attempt's error has a type"
		}
	}
	return ""
}

// issueEffect returns what a successful encode failed to do, or "".
func issueEffect(effect string, result map[string]any, er *encodeRecord, rec *recording) string {
	x := er.encode.Expect
	switch effect {
	case "is-issued":
		if result["is_issued"] != true {
			return fmt.Sprintf("result.is_issued is %v; want true", jsonOf(result["is_issued"]))
		}
	case "issued-at":
		s, _ := result["issued_at"].(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Sprintf("result.issued_at is %v; want the time of the encode", jsonOf(result["issued_at"]))
		}
		x := expectation{from: er.started, to: er.ended, source: "the encode: from its encode_credential call to the first terminal answer"}
		if msg := x.compare("result.issued_at", s); msg != "" {
			return msg
		}
	case "card-number":
		n, _ := result["card_number"].(string)
		if n == "" {
			return fmt.Sprintf("result.card_number is %v; want the number of the card written", jsonOf(result["card_number"]))
		}
		// On hardware the card on the desk is the operator's, not the
		// scenario's: any number it reports will do.
		if x.Card != "" && !rec.hardware {
			want := cardUID(rec.sc, x.Card)
			if n != want {
				return fmt.Sprintf("result.card_number is %q; card %s has number %s", n, x.Card, want)
			}
		}
	case "waiting-warning-removed":
		if codes := warningCodes(result); contains(codes, "waiting_to_be_issued") {
			return fmt.Sprintf("result.warnings still has waiting_to_be_issued: %s", jsonOf(result["warnings"]))
		}
	case "visionline-card-id":
		vm, _ := result["visionline_metadata"].(map[string]any)
		id, _ := vm["card_id"].(string)
		if id == "" {
			return fmt.Sprintf("result.visionline_metadata.card_id is %v; want the card id the encode wrote", jsonOf(vm["card_id"]))
		}
		if x.Card != "" && !rec.hardware && er.cardAfter.CardID != id {
			return fmt.Sprintf("result.visionline_metadata.card_id is %q; card %s holds card id %q", id, x.Card, er.cardAfter.CardID)
		}
	case "vostio-key-id":
		vm, _ := result["assa_abloy_vostio_metadata"].(map[string]any)
		id, _ := vm["key_id"].(string)
		if id == "" {
			return fmt.Sprintf("result.assa_abloy_vostio_metadata.key_id is %v; want the key the encode wrote", jsonOf(vm["key_id"]))
		}
		if x.Card != "" && !rec.hardware && er.cardAfter.CardID != id {
			return fmt.Sprintf("result.assa_abloy_vostio_metadata.key_id is %q; card %s holds key %q", id, x.Card, er.cardAfter.CardID)
		}
	case "card-contents":
		return cardContentsProblem(result, er, rec)
	case "stored":
		// Beside other encodes of the credential, the stored one may
		// already be the next encode's.
		if !er.overlapped && !reflect.DeepEqual(er.after, result) {
			return fmt.Sprintf("/acs/credentials/get differs from the attempt's result:\n  result %s\n  stored %s", compact(result), compact(er.after))
		}
	}
	return ""
}

// waitingBefore returns how a card credential that is not yet issued
// fails to say so, or "": it must carry a warning waiting_to_be_issued,
// created with the credential, between the /acs/credentials/create call
// and its answer. cred is the credential as the suite last read it before
// an encode (the create answer, or /acs/credentials/get after an encode
// that failed).
func waitingBefore(cred map[string]any, rec *recording) string {
	if cred == nil || cred["is_issued"] == true || cred["access_method"] != "card" {
		return ""
	}
	list, ok := cred["warnings"].([]any)
	if !ok {
		return fmt.Sprintf("the credential before the encode has warnings %s; want a list with waiting_to_be_issued", jsonOf(cred["warnings"]))
	}
	for _, item := range list {
		w, _ := item.(map[string]any)
		if w["warning_code"] != "waiting_to_be_issued" {
			continue
		}
		if rec.created == nil || rec.created.Received.IsZero() {
			return ""
		}
		x := expectation{from: rec.created.Sent, to: rec.created.Received, source: "the time of the /acs/credentials/create call that created it"}
		if msg := x.compare("warnings[waiting_to_be_issued].created_at", w["created_at"]); msg != "" {
			return "the credential before the encode: " + msg
		}
		return ""
	}
	return fmt.Sprintf("the credential is not issued, but its warnings %s have no waiting_to_be_issued", jsonOf(list))
}

// missingCarrier reports a status-bound field check (when: success or
// error) that has nothing to look at: the attempt has that status, but
// the object that must carry the field (its result or its error) is null
// or absent. Without it, error.type would pass on an error attempt whose
// error is null.
func missingCarrier(c Check, attempt map[string]any) string {
	top, rest, nested := strings.Cut(c.Path, ".")
	if c.When == "" || !nested || rest == "" {
		return ""
	}
	if v, ok := attempt[top]; !ok || v == nil {
		return fmt.Sprintf("%s is %s in an attempt with status %s, so nothing carries %s", top, jsonOf(v), c.When, c.Path)
	}
	return ""
}

func cardUID(sc *scenario.Scenario, name string) string {
	for _, c := range sc.Cards {
		if c.Name == name {
			return strings.ToUpper(c.UID)
		}
	}
	return ""
}

// convention returns how a response breaks an API convention, or "".
func convention(rule string, r *response) string {
	if r == nil {
		return ""
	}
	switch rule {
	case "json-content-type":
		if len(r.Body) > 0 {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				return fmt.Sprintf("%s %s → %d has Content-Type %q; want application/json", r.Method, r.Path, r.Status, r.Header.Get("Content-Type"))
			}
		}
	case "request-id":
		if r.Header.Get("seam-request-id") == "" {
			return fmt.Sprintf("%s %s → %d has no seam-request-id header", r.Method, r.Path, r.Status)
		}
	case "ok-true":
		if r.Status == 200 {
			m, err := r.object()
			if err != nil || string(m["ok"]) != "true" {
				return fmt.Sprintf("%s: a success carries \"ok\": true", r)
			}
		}
	case "error-envelope":
		if r.Status >= 400 {
			return apiError(r, r.Status, "")
		}
		// An error told with a success status is no envelope either.
		if m, err := r.object(); err == nil {
			if e, ok := m["error"]; ok && string(e) != "null" {
				return fmt.Sprintf("%s: an answer carrying an error must have a 4xx or 5xx status", r)
			}
		}
	case "get-and-post":
		if r.Path == "/action_attempts/get" && r.Status != 200 {
			return fmt.Sprintf("%s: /action_attempts/get must answer both POST with a JSON body and GET with a query", r)
		}
	}
	return ""
}

// apiError returns how r fails to be Seam's error envelope with that
// status and type ("" type: any), or "".
func apiError(r *response, status int, typ string) string {
	if r.Status != status {
		return fmt.Sprintf("%s: want HTTP %d", r, status)
	}
	var body struct {
		OK    *bool `json:"ok"`
		Error *struct {
			Type    *string `json:"type"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return fmt.Sprintf("%s: the error body is not JSON", r)
	}
	switch {
	case body.OK == nil || *body.OK:
		return fmt.Sprintf("%s: an error carries \"ok\": false", r)
	case body.Error == nil || body.Error.Type == nil || body.Error.Message == nil:
		return fmt.Sprintf("%s: an error carries {\"error\": {\"type\", \"message\"}}", r)
	case typ != "" && *body.Error.Type != typ:
		return fmt.Sprintf("%s: want error type %s", r, typ)
	}
	return ""
}

func last(rs []*response) string {
	if len(rs) == 0 {
		return "none"
	}
	return rs[len(rs)-1].String()
}

func compact(v any) string {
	if v == nil {
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonOf(v any) string { return compact(v) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
