package conformance

import "testing"

func TestMissingCarrier(t *testing.T) {
	typ := Check{Kind: "field", Path: "error.type", When: "error"}
	for _, c := range []struct {
		name    string
		c       Check
		attempt map[string]any
		report  bool
	}{
		{"error null in an error attempt", typ, map[string]any{"status": "error", "error": nil}, true},
		{"error absent in an error attempt", typ, map[string]any{"status": "error"}, true},
		{"error present", typ, map[string]any{"status": "error", "error": map[string]any{"type": "x"}}, false},
		{"a top-level field", Check{Path: "status", When: "error"}, map[string]any{"status": "error"}, false},
		{"a check bound to no status", Check{Path: "error.type"}, map[string]any{"status": "pending", "error": nil}, false},
		{"result null in a success", Check{Path: "result.card_number", When: "success"}, map[string]any{"status": "success", "result": nil}, true},
	} {
		if got := missingCarrier(c.c, c.attempt) != ""; got != c.report {
			t.Errorf("%s: reported %v, want %v", c.name, got, c.report)
		}
	}
}

func TestErrorEnvelopeWithSuccessStatus(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		bad    bool
	}{
		{200, `{"ok":true,"action_attempt":{}}`, false},
		{200, `{"ok":true,"error":null}`, false},
		{200, `{"ok":false,"error":{"type":"invalid_input","message":"m"}}`, true},
		{201, `{"error":{"type":"invalid_input","message":"m"}}`, true},
		{400, `{"ok":false,"error":{"type":"invalid_input","message":"m"}}`, false},
	} {
		r := &response{Method: "POST", Path: "/acs/encoders/encode_credential", Status: c.status, Body: []byte(c.body)}
		if got := convention("error-envelope", r) != ""; got != c.bad {
			t.Errorf("%d %s: reported %v, want %v", c.status, c.body, got, c.bad)
		}
	}
}
