package conformance

import (
	"fmt"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// scenarioProblems checks what the scenario itself says must come of its
// calls (SCENARIO-EXPECTATIONS): the credential's creation, when it
// expects it refused, and every encode's outcome and card.
func scenarioProblems(rec *recording) []string {
	var problems []string
	if r := rec.sc.Credential.Refused; r != nil {
		where := fmt.Sprintf("%s:%d (credential)", rec.sc.File, r.Line)
		switch {
		case rec.created == nil:
			problems = append(problems, where+": /acs/credentials/create was not called")
		default:
			if msg := apiError(rec.created, r.HTTPStatus, r.ErrorType); msg != "" {
				problems = append(problems, where+": the scenario expects the credential refused: "+msg)
			}
		}
	}
	for _, er := range rec.calls() {
		for _, p := range encodeProblems(er, rec) {
			problems = append(problems, er.where(rec.sc)+": "+p)
		}
	}
	return problems
}

// encodeProblems is how one encode differs from its expectation.
func encodeProblems(er *encodeRecord, rec *recording) []string {
	x := er.encode.Expect
	if x.Status == scenario.StatusAny && er.turnedAway(rec.sc) {
		// A timeline that kills the server or fills its disk may leave
		// an encode unanswered or refused (503, safe to retry).
		return nil
	}
	call := er.endpoint()
	if er.first == nil {
		return []string{fmt.Sprintf("%s went unanswered (%v); want %s", call, er.lost, describe(x))}
	}
	if x.HTTPStatus != 200 {
		if msg := apiError(er.first, x.HTTPStatus, x.ErrorType); msg != "" {
			return []string{call + " " + msg}
		}
		return nil
	}
	if er.first.Status != 200 {
		return []string{fmt.Sprintf("%s answered %s; want an action attempt that ends %s", call, er.first, describe(x))}
	}
	if er.final == nil {
		return []string{"the attempt never ended; want " + describe(x)}
	}
	var problems []string
	if x.Status == scenario.StatusAny {
		// Any terminal status will do; the universal checks judge it.
		return nil
	}
	got := fmt.Sprint(er.final["status"])
	if e, ok := er.final["error"].(map[string]any); ok {
		got += " " + fmt.Sprint(e["type"])
	}
	if got != strings.TrimSpace(x.Status+" "+x.ErrorType) {
		problems = append(problems, fmt.Sprintf("the attempt ended %s; want %s: %s", got, describe(x), compact(er.final)))
	}
	if rec.hardware || x.Card == "" {
		// A real encoder's cards cannot be read back.
		return problems
	}
	result, _ := er.final["result"].(map[string]any)
	switch {
	case x.Status != "success" || result == nil:
	case er.encode.Scan:
		// A scan reads the card: its result is what it read (the loader
		// gives a scan no contents to check).
		problems = append(problems, scanReadProblems(x, result, rec)...)
	default:
		if n, want := fmt.Sprint(result["card_number"]), cardUID(rec.sc, x.Card); n != want {
			problems = append(problems, fmt.Sprintf("result.card_number is %s; want card %s's number %s", jsonOf(result["card_number"]), x.Card, want))
		}
	}
	if x.Written != "" && er.cardAfter.Kind != x.Written {
		problems = append(problems, fmt.Sprintf("card %s holds %s afterwards; want %s", x.Card, er.cardAfter.Kind, x.Written))
	}
	if x.Contents != nil {
		cred := result
		if cred == nil {
			cred = er.after
		}
		problems = append(problems, contentsProblems(x.Card, x.Contents, er.cardAfter, cred)...)
	}
	return problems
}

// contentsProblems compares what card name holds with what the scenario
// says it must; cred is the credential as the API last gave it, for
// bounds taken from the credential.
func contentsProblems(name string, w *scenario.WrittenContents, got card.Contents, cred map[string]any) []string {
	var problems []string
	if w.Function != "" {
		if want := functionCode(w.Function); got.Function != want {
			problems = append(problems, fmt.Sprintf("card %s carries function %q; want %q (%s)", name, got.Function, want, w.Function))
		}
	}
	bound := func(what, written string, b *scenario.Bound, field string) {
		if b == nil {
			return
		}
		want, source := b.At, "the scenario"
		if b.Credential {
			source = "the credential's " + field
			s, _ := cred[field].(string)
			if s == "" {
				want = time.Time{}
			} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				want = t
			} else {
				problems = append(problems, fmt.Sprintf("card %s: the credential's %s %q is not a time to compare %s with", name, field, s, what))
				return
			}
		}
		if b.None {
			want = time.Time{}
		}
		if msg := compareBound(written, want); msg != "" {
			problems = append(problems, fmt.Sprintf("card %s is %s %s; want %s (%s)", name, what, msg, describeBound(want), source))
		}
	}
	bound("valid from", got.ValidFrom, w.ValidFrom, "starts_at")
	bound("valid until", got.ValidUntil, w.ValidUntil, "ends_at")
	if w.Label != nil && got.Label != *w.Label {
		problems = append(problems, fmt.Sprintf("card %s carries label %q; want %q", name, got.Label, *w.Label))
	}
	return problems
}

// cardContentsProblem checks ISSUE-CARD-WRITTEN-AS-CREDENTIAL for one
// successful encode: the card carries the validity and function of the
// credential the attempt's result returned.
func cardContentsProblem(result map[string]any, er *encodeRecord, rec *recording) string {
	x := er.encode.Expect
	if x.Card == "" || rec.hardware || er.cardAfter.Writes == er.cardBefore.Writes {
		// No card the suite can read, or none written (the outcome
		// checks say so).
		return ""
	}
	function := "guest"
	if vm, _ := result["visionline_metadata"].(map[string]any); vm["card_function_type"] == "staff" {
		function = "staff"
	}
	w := &scenario.WrittenContents{Function: function,
		ValidFrom: &scenario.Bound{Credential: true}, ValidUntil: &scenario.Bound{Credential: true}}
	return strings.Join(contentsProblems(x.Card, w, er.cardAfter, result), "; ")
}

func functionCode(f string) string {
	if f == "staff" {
		return "S"
	}
	return "G"
}

// writtenMinute is the layout both protocols write a bound in, in UTC.
const writtenMinute = "200601021504"

// compareBound returns how a written bound (YYYYMMDDhhmm, "" for none)
// differs from want (zero: none), or "". A card bound counts in whole
// minutes, so a credential's time may fall anywhere in the minute before
// or after it: within a minute either way matches.
func compareBound(written string, want time.Time) string {
	if want.IsZero() {
		if written != "" {
			return fmt.Sprintf("%q", written)
		}
		return ""
	}
	if written == "" {
		return "open (no bound written)"
	}
	t, err := time.ParseInLocation(writtenMinute, written, time.UTC)
	if err != nil {
		return fmt.Sprintf("%q, which is not a YYYYMMDDhhmm time", written)
	}
	if d := t.Sub(want); d <= -time.Minute || d >= time.Minute {
		return fmt.Sprintf("%q (%s)", written, t.Format(time.RFC3339))
	}
	return ""
}

func describeBound(t time.Time) string {
	if t.IsZero() {
		return "no bound"
	}
	return t.UTC().Format(time.RFC3339) + " to the minute"
}
