package conformance

import (
	"strings"
	"testing"
	"time"
)

func TestExpectationCompare(t *testing.T) {
	from := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	window := expectation{from: from, to: from.Add(2 * time.Second), source: "the encode"}
	yes := true
	for _, c := range []struct {
		name string
		x    expectation
		got  any
		ok   bool
	}{
		{"same id", expectation{value: "3f1c…"}, "3f1c…", true},
		{"other id", expectation{value: "3f1c"}, "3f1d", false},
		{"null for a value", expectation{value: "card"}, nil, false},
		{"the same instant, other precision", expectation{value: "2026-12-03T10:00:00Z", instant: true}, "2026-12-03T10:00:00.000Z", true},
		{"another instant", expectation{value: "2026-12-03T10:00:00Z", instant: true}, "2026-12-04T10:00:00.000Z", false},
		{"inside the window", window, "2026-12-03T10:00:01.000Z", true},
		{"a millisecond before it, clock slack", window, "2026-12-03T09:59:59.999Z", true},
		{"an hour before it (the previous encode's time)", window, "2026-12-03T09:00:00.000Z", false},
		{"after it", window, "2026-12-03T10:00:03.000Z", false},
		{"not a datetime", window, "yesterday", false},
		{"true as expected", expectation{boolean: &yes}, true, true},
		{"false for true", expectation{boolean: &yes}, false, false},
		{"null for a boolean", expectation{boolean: &yes}, nil, false},
		{"a string for a boolean", expectation{boolean: &yes}, "true", false},
	} {
		msg := c.x.compare("result.f", c.got)
		if (msg == "") != c.ok {
			t.Errorf("%s: compare(%v) = %q, want ok=%v", c.name, c.got, msg, c.ok)
		}
		if msg != "" && !strings.Contains(msg, "want") {
			t.Errorf("%s: message %q does not say what was wanted", c.name, msg)
		}
	}
}

func TestNearMissesOf(t *testing.T) {
	const key = "seam_testlab_1_TESTONLY_not_a_secret"
	want := map[string]string{
		"its last character changed": "seam_testlab_1_TESTONLY_not_a_secrea",
		"cut short by one character": "seam_testlab_1_TESTONLY_not_a_secre",
		"one character longer":       "seam_testlab_1_TESTONLY_not_a_secret0",
		"in the other letter case":   "SEAM_TESTLAB_1_TESTONLY_NOT_A_SECRET",
		"with a space inside":        "seam_testlab_1_TES TONLY_not_a_secret",
	}
	got := nearMissesOf(key)
	if len(got) != len(want) {
		t.Fatalf("%d near misses, want %d", len(got), len(want))
	}
	for _, m := range got {
		if m.token == key {
			t.Errorf("%s: the near miss is the key itself", m.what)
		}
		if w, ok := want[m.what]; !ok || m.token != w {
			t.Errorf("%s: %q, want %q", m.what, m.token, w)
		}
	}
}

func TestEveryExpectHasItsSource(t *testing.T) {
	r, err := ParseRegistry(requirementsYAML)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, req := range r.Requirements {
		if req.Check.Expect != "" {
			seen[req.Check.Path] = true
		}
	}
	// Every field the suite knows the value of is compared with it.
	for source, paths := range relationalPaths {
		for _, p := range paths {
			if !seen[p] {
				t.Errorf("the registry does not compare %s with its %s value", p, source)
			}
		}
	}
}

func TestWaitingBefore(t *testing.T) {
	created := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	rec := &recording{created: &response{Sent: created, Received: created.Add(20 * time.Millisecond)}}
	warning := func(code, at string) map[string]any {
		return map[string]any{"warning_code": code, "created_at": at, "message": "m"}
	}
	cred := func(issued bool, warnings ...any) map[string]any {
		return map[string]any{"access_method": "card", "is_issued": issued, "warnings": warnings}
	}
	const during, later = "2026-12-03T10:00:00.010Z", "2026-12-03T11:00:00.010Z"
	for _, c := range []struct {
		name string
		cred map[string]any
		ok   bool
	}{
		{"waiting, created with the credential", cred(false, warning("waiting_to_be_issued", during)), true},
		{"waiting among others", cred(false, warning("schedule_modified", later), warning("waiting_to_be_issued", during)), true},
		{"no warning", cred(false), false},
		{"another warning only", cred(false, warning("schedule_externally_modified", during)), false},
		{"waiting, created an hour later", cred(false, warning("waiting_to_be_issued", later)), false},
		{"warnings null", map[string]any{"access_method": "card", "is_issued": false, "warnings": nil}, false},
		{"issued: nothing asked", cred(true), true},
		{"a mobile key: nothing asked", map[string]any{"access_method": "mobile_key", "is_issued": false, "warnings": []any{}}, true},
	} {
		if msg := waitingBefore(c.cred, rec); (msg == "") != c.ok {
			t.Errorf("%s: waitingBefore = %q, want ok=%v", c.name, msg, c.ok)
		}
	}
}
