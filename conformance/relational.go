package conformance

import (
	"fmt"
	"strings"
	"time"
)

// A field's form (a UUID, a datetime, an enum member) says little when
// the suite knows what the value must be: it made the create request, it
// knows the lab, it named the credential in the call and it watched the
// encode happen. A field check with expect compares the value with that
// knowledge; the registry names, per field, where the value comes from:
//
//   - request: the value the suite sent in /acs/credentials/create;
//   - lab: the lab's workspace and ACS system the credential belongs to;
//   - call: the acs_credential_id the encode_credential call named;
//   - created: the value /acs/credentials/create answered, which an
//     encode must not change;
//   - create-window: a datetime between the /acs/credentials/create
//     request and its answer;
//   - encode-window: a datetime between the encode_credential call and
//     the first answer that showed the attempt terminal, so a reissue
//     must report its own time, not the previous encode's;
//   - since-create: a datetime of something done to the credential,
//     between its /acs/credentials/create call and the end of the
//     encode (the last answer the suite read);
//   - suite-created: what holds of a credential because the suite
//     created it through the API (is_managed: true, REFERENCE §1).
//
// The sources are the suite's own requests and the lab file, never an
// answer of the system under test, except for created, which holds the
// server to what it said before the encode.

// relationalPaths lists the fields each source knows the value of.
var relationalPaths = map[string][]string{
	"request": {"result.acs_user_id", "result.access_method", "result.starts_at", "result.ends_at",
		"result.visionline_metadata.card_function_type"},
	"lab":           {"result.acs_system_id", "result.workspace_id", "result.external_type", "result.external_type_display_name"},
	"call":          {"result.acs_credential_id"},
	"created":       {"result.display_name"},
	"create-window": {"result.created_at"},
	"encode-window": {"result.issued_at"},
	"since-create":  {"result.latest_desired_state_synced_with_provider_at"},
	"suite-created": {"result.is_managed"},
}

// relational reports whether the suite knows the value of path from
// source.
func relational(path, source string) bool {
	for _, p := range relationalPaths[source] {
		if p == path {
			return true
		}
	}
	return false
}

// expectation is what a field must hold. An instant compares as a point
// in time (any precision, any notation of UTC); a window bounds one.
type expectation struct {
	value    string
	boolean  *bool // a boolean field's value
	instant  bool
	from, to time.Time // encode-window
	source   string
}

// expectedFor returns the field's expected value in one encode of rec,
// false when the suite has none for it there (a request that did not set
// starts_at says nothing of the answer's).
func expectedFor(c Check, rec *recording, er *encodeRecord) (expectation, bool) {
	field := strings.TrimPrefix(c.Path, "result.")
	switch c.Expect {
	case "request":
		return valueIn(rec.request, field, "the /acs/credentials/create request")
	case "lab":
		src := fmt.Sprintf("the lab (workspace %s, system %s)", rec.ws.Name, rec.sys.Key)
		switch field {
		case "acs_system_id":
			return expectation{value: rec.sys.ID, source: src}, true
		case "workspace_id":
			return expectation{value: rec.ws.ID, source: src}, true
		case "external_type":
			return expectation{value: rec.sys.ExternalType, source: src}, rec.sys.ExternalType != ""
		case "external_type_display_name":
			return expectation{value: rec.sys.ExternalTypeDisplayName, source: src}, rec.sys.ExternalTypeDisplayName != ""
		}
	case "call":
		return expectation{value: er.credentialID, source: "the acs_credential_id of the encode_credential call"}, er.credentialID != ""
	case "created":
		return valueIn(rec.credential, field, "the /acs/credentials/create answer")
	case "create-window":
		if rec.created == nil || rec.created.Received.IsZero() {
			return expectation{}, false
		}
		return expectation{from: rec.created.Sent, to: rec.created.Received, source: "the time of the /acs/credentials/create call"}, true
	case "encode-window":
		if er.ended.IsZero() {
			return expectation{}, false
		}
		return expectation{from: er.started, to: er.ended, source: "the time between the encode_credential call and the first terminal answer"}, true
	case "since-create":
		if rec.created == nil || rec.created.Sent.IsZero() || er.ended.IsZero() {
			return expectation{}, false
		}
		return expectation{from: rec.created.Sent, to: er.ended, source: "the time between the credential's creation and the end of the encode"}, true
	case "suite-created":
		if field == "is_managed" {
			yes := true
			return expectation{boolean: &yes, source: "the suite having created the credential through the API (REFERENCE §1: is_managed is true for credentials the system manages)"}, true
		}
	}
	return expectation{}, false
}

// valueIn expects the string doc holds at field, from source; false when
// doc has none there.
func valueIn(doc map[string]any, field, source string) (expectation, bool) {
	v, _ := dig(doc, field)
	s, ok := v.(string)
	return expectation{value: s, instant: isTimeField(field), source: source}, ok
}

func isTimeField(field string) bool {
	return strings.HasSuffix(field, "_at")
}

// dig returns the value at a dotted path of plain keys.
func dig(doc map[string]any, path string) (any, bool) {
	cur := any(doc)
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// compare returns how got (the field's value in an answer) differs from
// x, or "".
func (x expectation) compare(path string, got any) string {
	if x.boolean != nil {
		if b, ok := got.(bool); !ok || b != *x.boolean {
			return fmt.Sprintf("%s is %v; want %s", path, compactValue(got), x.want())
		}
		return ""
	}
	s, ok := got.(string)
	if !ok {
		return fmt.Sprintf("%s is %v; want %s", path, compactValue(got), x.want())
	}
	switch {
	case !x.from.IsZero():
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Sprintf("%s is %q, not a datetime; want %s", path, s, x.want())
		}
		// The server's clock and the suite's agree within the
		// answer's precision: a millisecond either side.
		if t.Before(x.from.Add(-time.Millisecond)) || t.After(x.to.Add(time.Millisecond)) {
			return fmt.Sprintf("%s is %s; want %s", path, s, x.want())
		}
	case x.instant:
		t, err1 := time.Parse(time.RFC3339Nano, s)
		w, err2 := time.Parse(time.RFC3339Nano, x.value)
		if err1 != nil || err2 != nil || !t.Equal(w) {
			return fmt.Sprintf("%s is %q; want %s", path, s, x.want())
		}
	case s != x.value:
		return fmt.Sprintf("%s is %q; want %s", path, s, x.want())
	}
	return ""
}

func (x expectation) want() string {
	if x.boolean != nil {
		return fmt.Sprintf("%v, from %s", *x.boolean, x.source)
	}
	if !x.from.IsZero() {
		return fmt.Sprintf("between %s and %s (%s)", x.from.UTC().Format(time.RFC3339Nano), x.to.UTC().Format(time.RFC3339Nano), x.source)
	}
	return fmt.Sprintf("%q, from %s", x.value, x.source)
}

func compactValue(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%v", v)
}

// checkRelational compares the field c names, in every success result of
// er and in the credential read after it, with what the suite knows it
// must be.
func checkRelational(c Check, rec *recording, er *encodeRecord) []string {
	if c.Expect == "" {
		return nil
	}
	x, ok := expectedFor(c, rec, er)
	if !ok {
		return nil
	}
	field := strings.TrimPrefix(c.Path, "result.")
	var problems []string
	for _, a := range er.attempts() {
		if a.v["status"] != "success" {
			continue
		}
		res, _ := a.v["result"].(map[string]any)
		if got, ok := dig(res, field); ok {
			if msg := x.compare(c.Path, got); msg != "" {
				problems = append(problems, a.what+": "+msg)
			}
		}
	}
	if er.after != nil && er.final != nil && er.final["status"] == "success" {
		// An encode that ran beside others of the same credential may
		// read it back after another one issued it: its issue time is
		// theirs, and its sync time may be as late as the read.
		switch {
		case er.overlapped && c.Expect == "encode-window":
			return problems
		case er.overlapped && x.to.Equal(er.ended) && !er.afterAt.IsZero():
			x.to = er.afterAt
		}
		if got, ok := dig(er.after, field); ok {
			if msg := x.compare(c.Path, got); msg != "" {
				problems = append(problems, "/acs/credentials/get after the encode: "+msg)
			}
		}
	}
	return problems
}
