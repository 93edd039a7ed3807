package conformance

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// scanRules are the rules of check kind scan: what a scan_credential
// call must come to, judged against the cards on the desk.
var scanRules = []string{"reads-the-card", "writes-nothing"}

// The SCAN_CREDENTIAL attempt as @seamapi/types 1.977.0 defines it: its
// action_type, the error types it may end with, and its warning codes.
const (
	scanActionType = "SCAN_CREDENTIAL"
	warnNotOnSeam  = "acs_credential_on_seam_not_found"
)

var scanErrorTypes = []string{"uncategorized_error", "action_attempt_expired", "no_credential_on_encoder",
	"encoder_not_online", "encoder_communication_timeout", "bridge_disconnected"}

// scanApplies reports whether a scan rule can say something of sc.
func scanApplies(sc *scenario.Scenario) bool {
	return slices.ContainsFunc(sc.Encodes, func(e scenario.Encode) bool { return e.Scan && e.Expect.HTTPStatus == 200 })
}

// scanProblems checks one scan rule on a recording.
func scanProblems(rule string, rec *recording, cfg *Config) []string {
	var problems []string
	bad := func(er *encodeRecord, format string, args ...any) {
		problems = append(problems, er.where(rec.sc)+": "+fmt.Sprintf(format, args...))
	}
	for _, er := range rec.scans {
		if er.encode.Expect.HTTPStatus != 200 || er.turnedAway(rec.sc) {
			continue
		}
		switch rule {
		case "reads-the-card":
			for _, p := range scanAttemptProblems(er, rec, cfg) {
				bad(er, "%s", p)
			}
		case "writes-nothing":
			if rec.hardware || er.overlapped {
				// A real encoder's cards cannot be read back; beside an
				// encode, a card may be written by that encode.
				continue
			}
			for _, name := range slices.Sorted(maps.Keys(er.cardsAfter)) {
				if b, a := er.cardsBefore[name], er.cardsAfter[name]; a.Writes != b.Writes {
					bad(er, "card %s was written while the scan ran (it held %s, it holds %s)", name, b.Kind, a.Kind)
				}
			}
		}
	}
	return problems
}

// scanAttemptProblems is what is wrong with one scan: its attempt, its
// end, and what it reports of the card on the encoder.
func scanAttemptProblems(er *encodeRecord, rec *recording, cfg *Config) []string {
	var problems []string
	if er.first.Status != 200 {
		return []string{fmt.Sprintf("scan_credential answered %s; want HTTP 200 with a %s action attempt", er.first, scanActionType)}
	}
	for _, a := range er.attempts() {
		if a.v["action_type"] != scanActionType {
			problems = append(problems, fmt.Sprintf("%s: action_type is %s; want %s", a.what, jsonOf(a.v["action_type"]), scanActionType))
		}
	}
	if er.final == nil {
		return append(problems, fmt.Sprintf("the scan's attempt was still pending %v after the call, past its %v deadline",
			er.ended.Sub(er.started).Round(time.Millisecond), cfg.TimeScale.Of(cfg.AttemptDeadline)))
	}
	if !rec.sc.DeletesCredential() && !er.overlapped && er.after != nil && !reflect.DeepEqual(er.after, er.before) {
		problems = append(problems, fmt.Sprintf("the credential changed although a scan writes nothing:\n  before %s\n  after  %s", compact(er.before), compact(er.after)))
	}
	switch er.final["status"] {
	case "error":
		if er.final["result"] != nil {
			problems = append(problems, fmt.Sprintf("a failed scan has result %s; want null", jsonOf(er.final["result"])))
		}
		if t := errorType(er.final); !slices.Contains(scanErrorTypes, t) {
			problems = append(problems, fmt.Sprintf("the scan ended error %q; a scan's error types are %s", t, strings.Join(scanErrorTypes, ", ")))
		}
		return problems
	case "success":
	default:
		return append(problems, fmt.Sprintf("the scan ended with status %s; want success or error", jsonOf(er.final["status"])))
	}
	if er.final["error"] != nil {
		problems = append(problems, fmt.Sprintf("a successful scan has error %s; want null", jsonOf(er.final["error"])))
	}
	result, ok := er.final["result"].(map[string]any)
	if !ok {
		return append(problems, fmt.Sprintf("a successful scan has result %s; want the scan's result object", jsonOf(er.final["result"])))
	}
	onEncoder, _ := result["acs_credential_on_encoder"].(map[string]any)
	warnings := scanWarnings(result)
	if onEncoder == nil {
		problems = append(problems, fmt.Sprintf("result.acs_credential_on_encoder is %s; want what the encoder read of the card", jsonOf(result["acs_credential_on_encoder"])))
	}
	if _, ok := result["warnings"].([]any); !ok {
		problems = append(problems, fmt.Sprintf("result.warnings is %s; want a list", jsonOf(result["warnings"])))
	}
	if onEncoder == nil || rec.hardware {
		// On hardware the card on the desk is the operator's: what it
		// holds is not known to the suite.
		return problems
	}
	number, _ := onEncoder["card_number"].(string)
	name := cardNamed(rec, number)
	if name == "" {
		return append(problems, fmt.Sprintf("result.acs_credential_on_encoder.card_number is %s, which is no card of the desk (%s)", jsonOf(onEncoder["card_number"]), cardList(rec)))
	}
	held := er.cardsBefore[name]
	issued := held.Kind == card.Guest || held.Kind == card.Staff
	if onEncoder["is_issued"] != issued {
		problems = append(problems, fmt.Sprintf("result.acs_credential_on_encoder.is_issued is %s; card %s holds %s", jsonOf(onEncoder["is_issued"]), name, held.Kind))
	}
	if rec.sc.DeletesCredential() {
		// Whether the credential was still there when the scan read the
		// card depends on when the timeline deleted it.
		return problems
	}
	onSeam, _ := result["acs_credential_on_seam"].(map[string]any)
	credID, _ := rec.credential["acs_credential_id"].(string)
	switch {
	case issued && slices.Contains(credentialCardIDs(rec), held.CardID):
		if onSeam == nil || onSeam["acs_credential_id"] != credID {
			problems = append(problems, fmt.Sprintf("result.acs_credential_on_seam is %s; card %s holds card id %s, written by an encode of credential %s",
				compact(onSeam), name, held.CardID, credID))
		}
		if slices.Contains(warnings, warnNotOnSeam) {
			problems = append(problems, fmt.Sprintf("result.warnings has %s, yet card %s holds credential %s's card id", warnNotOnSeam, name, credID))
		}
	case issued:
		if onSeam != nil {
			problems = append(problems, fmt.Sprintf("result.acs_credential_on_seam is %s; card %s holds card id %s, which no credential of the run has", compact(onSeam), name, held.CardID))
		}
		if !slices.Contains(warnings, warnNotOnSeam) {
			problems = append(problems, fmt.Sprintf("result.warnings is %s; card %s holds card id %s, which no credential of the run has: want %s", jsonOf(result["warnings"]), name, held.CardID, warnNotOnSeam))
		}
	default:
		if onSeam != nil {
			problems = append(problems, fmt.Sprintf("result.acs_credential_on_seam is %s; card %s holds %s, no credential", compact(onSeam), name, held.Kind))
		}
		if len(warnings) > 0 {
			problems = append(problems, fmt.Sprintf("result.warnings is %s; card %s holds %s, no credential to compare", jsonOf(result["warnings"]), name, held.Kind))
		}
	}
	return problems
}

// credentialCardIDs are the card ids the run's encodes wrote for its
// credential: each successful encode's card, as the desk holds it after.
func credentialCardIDs(rec *recording) []string {
	var out []string
	for _, er := range rec.encodes {
		if er.final == nil || er.final["status"] != "success" {
			continue
		}
		result, _ := er.final["result"].(map[string]any)
		number, _ := result["card_number"].(string)
		if name := cardNamed(rec, number); name != "" && er.cardsAfter[name].CardID != "" {
			out = append(out, er.cardsAfter[name].CardID)
		}
	}
	return out
}

// scanWarnings are the warning codes of a scan's result.
func scanWarnings(result map[string]any) []string {
	var out []string
	list, _ := result["warnings"].([]any)
	for _, w := range list {
		m, _ := w.(map[string]any)
		code, _ := m["warning_code"].(string)
		out = append(out, code)
	}
	return out
}

// scanReadProblems is how a successful scan's result differs from what
// the scenario says it reads (SCENARIO-EXPECTATIONS).
func scanReadProblems(x scenario.Expect, result map[string]any, rec *recording) []string {
	var problems []string
	onEncoder, _ := result["acs_credential_on_encoder"].(map[string]any)
	if n, want := fmt.Sprint(onEncoder["card_number"]), cardUID(rec.sc, x.Card); n != want {
		problems = append(problems, fmt.Sprintf("result.acs_credential_on_encoder.card_number is %s; want card %s's number %s", jsonOf(onEncoder["card_number"]), x.Card, want))
	}
	r := x.Read
	if r == nil {
		return problems
	}
	if r.Issued != nil && onEncoder["is_issued"] != *r.Issued {
		problems = append(problems, fmt.Sprintf("result.acs_credential_on_encoder.is_issued is %s; want %t", jsonOf(onEncoder["is_issued"]), *r.Issued))
	}
	onSeam, _ := result["acs_credential_on_seam"].(map[string]any)
	credID, _ := rec.credential["acs_credential_id"].(string)
	switch r.OnSeam {
	case scenario.OnSeamCredential:
		if onSeam == nil || onSeam["acs_credential_id"] != credID {
			problems = append(problems, fmt.Sprintf("result.acs_credential_on_seam is %s; want the scenario's credential %s", compact(onSeam), credID))
		}
	case scenario.OnSeamNone:
		if result["acs_credential_on_seam"] != nil {
			problems = append(problems, fmt.Sprintf("result.acs_credential_on_seam is %s; want null", compact(onSeam)))
		}
	}
	if r.Warnings != nil {
		got, want := slices.Sorted(slices.Values(scanWarnings(result))), slices.Sorted(slices.Values(r.Warnings))
		if !slices.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("result.warnings are [%s]; want [%s]", strings.Join(got, ", "), strings.Join(want, ", ")))
		}
	}
	return problems
}
