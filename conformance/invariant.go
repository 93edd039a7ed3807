package conformance

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/card"
)

// invariantRules are the rules of check kind invariant: what holds of
// every encode whatever the scenario expects, judged on the virtual
// encoders' cards rather than on the API's word.
var invariantRules = []string{"success-card", "error-writes-nothing", "refused-reissue-one-card", "issued-iff-success", "one-command-at-a-time", "call-order"}

// refusals are the error types that say the encoder wrote nothing: no
// card, a card it cannot write, a card it must not overwrite.
var refusals = []string{"no_credential_on_encoder", "incompatible_card_format", "credential_cannot_be_reissued"}

// brokeOff reports whether the encode may have written a card without
// the pipeline knowing: it never ended, or ended in an error that is not
// a refusal (it expired, or broke off mid-write and lost the answer to a
// write that happened: the documented interruption, docs/faults.md,
// fault-answer-lost).
func (e *encodeRecord) brokeOff() bool {
	if e.lost != nil {
		return true
	}
	if e.final == nil {
		// An answer that is no attempt (404, 503) wrote nothing; an
		// attempt that never ended may have.
		return e.first == nil || e.first.Status == 200
	}
	return e.final["status"] == "error" && !slices.Contains(refusals, errorType(e.final))
}

// errorType is the error.type of a terminal attempt, "" if it has none.
func errorType(a map[string]any) string {
	e, _ := a["error"].(map[string]any)
	t, _ := e["type"].(string)
	return t
}

// invariantApplies reports whether the rule can say something of a
// scenario run on sys.
func invariantApplies(rule string, sys *fixtures.System, hasSuccess, hasFailure, hasAttempt bool) bool {
	switch rule {
	case "success-card":
		return hasSuccess
	case "error-writes-nothing":
		return hasFailure
	case "refused-reissue-one-card":
		return sys.Reissue == fixtures.ReissueRefused && hasAttempt
	case "issued-iff-success":
		return hasAttempt
	case "call-order":
		return hasSuccess
	}
	return false
}

// invariantProblems checks one invariant on a recording.
func invariantProblems(rule string, rec *recording) []string {
	if rec.hardware {
		// A real encoder's cards cannot be read back.
		return nil
	}
	var problems []string
	bad := func(er *encodeRecord, format string, args ...any) {
		where := rec.sc.File
		if er != nil {
			where = er.where(rec.sc)
		}
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	switch rule {
	case "success-card":
		for _, er := range rec.encodes {
			if er.final == nil || er.final["status"] != "success" {
				continue
			}
			result, _ := er.final["result"].(map[string]any)
			number, _ := result["card_number"].(string)
			name := cardNamed(rec, number)
			if name == "" {
				bad(er, "the attempt succeeded with card_number %s, which is no card of the desk (%s)", jsonOf(result["card_number"]), cardList(rec))
				continue
			}
			before, after := er.cardsBefore[name], er.cardsAfter[name]
			switch {
			case after.Writes == before.Writes:
				bad(er, "the attempt succeeded with card %s (%s), but no encoder wrote that card while it ran", name, number)
			case after.Kind != card.Guest && after.Kind != card.Staff:
				bad(er, "the attempt succeeded with card %s (%s), which holds %s afterwards", name, number, after.Kind)
			}
		}
	case "error-writes-nothing":
		for _, er := range rec.encodes {
			if er.final == nil || er.final["status"] != "error" || er.overlapped || er.brokeOff() {
				continue
			}
			for _, name := range slices.Sorted(maps.Keys(er.cardsAfter)) {
				if er.cardsAfter[name].Writes != er.cardsBefore[name].Writes {
					bad(er, "the attempt ended error %v, but card %s was written while it ran (it holds %s afterwards)",
						errorType(er.final), name, er.cardsAfter[name].Kind)
				}
			}
		}
	case "refused-reissue-one-card":
		// The cards successes name, and when the first success ended.
		onto := map[string]bool{}
		var firstEnd time.Time
		brokeOff := false
		for _, er := range rec.encodes {
			if er.brokeOff() {
				brokeOff = true
				continue
			}
			if er.final["status"] != "success" {
				continue
			}
			result, _ := er.final["result"].(map[string]any)
			number, _ := result["card_number"].(string)
			if name := cardNamed(rec, number); name != "" {
				onto[name] = true
			}
			if firstEnd.IsZero() || er.ended.Before(firstEnd) {
				firstEnd = er.ended
			}
		}
		if len(onto) > 1 {
			bad(nil, "ACS system %s refuses reissue, yet encodes succeeded onto %d cards: %s",
				rec.sys.Key, len(onto), strings.Join(slices.Sorted(maps.Keys(onto)), ", "))
		}
		for _, name := range slices.Sorted(maps.Keys(rec.cardsEnd)) {
			if onto[name] || rec.cardsEnd[name].Writes == rec.cardsStart[name].Writes {
				continue
			}
			at := rec.writtenAt[name]
			switch {
			case !firstEnd.IsZero() && at.After(firstEnd):
				bad(nil, "ACS system %s refuses reissue, yet card %s was written %v after an encode of the credential had succeeded (it holds %s)",
					rec.sys.Key, name, at.Sub(firstEnd).Round(time.Millisecond), rec.cardsEnd[name].Kind)
			case !brokeOff:
				bad(nil, "ACS system %s refuses reissue, yet card %s was written (it holds %s) though no encode succeeded onto it or broke off mid-write",
					rec.sys.Key, name, rec.cardsEnd[name].Kind)
			}
		}
	case "one-command-at-a-time":
		for _, id := range slices.Sorted(maps.Keys(rec.overlaps)) {
			if n := rec.overlaps[id]; n > 0 {
				bad(nil, "encoder %s received %d command(s) while another was outstanding (the device answered each BY)", id, n)
			}
		}
	case "call-order":
		// Two successes on one encoder, the second called after the
		// first was answered: the first was written first.
		issuedAt := func(er *encodeRecord) (time.Time, bool) {
			if er.first == nil || er.final == nil || er.final["status"] != "success" {
				return time.Time{}, false
			}
			result, _ := er.final["result"].(map[string]any)
			s, _ := result["issued_at"].(string)
			t, err := time.Parse(time.RFC3339Nano, s)
			return t, err == nil
		}
		for i, a := range rec.encodes {
			at, ok := issuedAt(a)
			if !ok {
				continue
			}
			for _, b := range rec.encodes[i+1:] {
				bt, ok := issuedAt(b)
				if !ok || rec.sc.EncodeOn(a.encode) != rec.sc.EncodeOn(b.encode) || !a.first.Received.Before(b.started) {
					continue
				}
				if bt.Before(at) {
					bad(b, "encode %d on %s was called after encode %d had been answered, yet succeeded first (issued_at %s, before %s): an encoder's encodes run in the order they were called",
						b.index+1, rec.sc.EncodeOn(b.encode), a.index+1, bt.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
				}
			}
		}
	case "issued-iff-success":
		succeeded := false
		var last *encodeRecord
		for _, er := range rec.encodes {
			if er.lost != nil {
				// An encode whose answer was lost may have succeeded
				// unseen: is_issued cannot be judged by what was seen.
				return nil
			}
			if er.final != nil && er.final["status"] == "success" {
				succeeded = true
			}
			if er.after != nil && (last == nil || er.afterAt.After(last.afterAt)) {
				last = er
			}
		}
		if last == nil {
			return nil
		}
		if issued := last.after["is_issued"] == true; issued != succeeded {
			bad(last, "after the encodes the credential has is_issued %v, but %s", jsonOf(last.after["is_issued"]),
				map[bool]string{true: "an encode succeeded", false: "no encode succeeded"}[succeeded])
		}
	}
	return problems
}

// cardNamed is the name of the desk's card with that UID, "" if none.
func cardNamed(rec *recording, uid string) string {
	for _, c := range rec.sc.Cards {
		if strings.EqualFold(c.UID, uid) && uid != "" {
			return c.Name
		}
	}
	return ""
}

func cardList(rec *recording) string {
	if len(rec.sc.Cards) == 0 {
		return "it has none"
	}
	var out []string
	for _, c := range rec.sc.Cards {
		out = append(out, c.Name+" "+c.UID)
	}
	return "its cards: " + strings.Join(out, ", ")
}
