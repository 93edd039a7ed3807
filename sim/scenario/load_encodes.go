package scenario

import (
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/sim/card"
)

// The encodes the suite makes and what each must come to.

func (l *loader) encode(n *yaml.Node, i int, declared, encoders map[string]bool) Encode {
	e := Encode{Line: n.Line}
	f := l.fields(n, "encode", "scan", "acs_encoder_id", "acs_credential_id", "on", "concurrent", "expect")
	if n.Kind != yaml.MappingNode {
		return e
	}
	unknown := func(key string) string {
		v, ok := f[key]
		if !ok {
			return ""
		}
		s, ok := l.str(v, key)
		if ok && s != Unknown {
			l.addf(v, "%s must be %q (a well-formed id that names nothing), got %q; leave it out for the scenario's own", key, Unknown, s)
			return ""
		}
		return s
	}
	if v, ok := f["scan"]; ok {
		e.Scan, _ = l.boolean(v, "encode: scan")
	}
	e.Encoder = unknown("acs_encoder_id")
	e.Credential = unknown("acs_credential_id")
	if v, ok := f["acs_credential_id"]; ok && e.Scan {
		l.addf(v, "encode: acs_credential_id with scan: a scan names no credential, only the encoder")
	}
	if v, ok := f["on"]; ok {
		if id, ok := l.str(v, "encode: on"); ok {
			if !encoders[id] {
				l.addf(v, "encode: on: the scenario has no encoder %q", id)
			}
			e.On = id
		}
	}
	if v, ok := f["concurrent"]; ok {
		e.Concurrent, _ = l.boolean(v, "encode: concurrent")
		if e.Concurrent && i == 0 {
			l.addf(v, "encode: concurrent: the first encode has no encode before it to run beside")
		}
	}
	if v, ok := f["expect"]; !ok {
		l.addf(n, "encode: expect is required")
	} else {
		e.Expect = l.expect(v, declared, e.Scan)
	}
	return e
}

// expect reads an expectation; scan says whether it is a scan's, which
// alone may say what the scan read.
func (l *loader) expect(n *yaml.Node, declared map[string]bool, scan bool) Expect {
	x := Expect{HTTPStatus: 200, Line: n.Line}
	f := l.fields(n, "expect", "http_status", "status", "error", "card", "written", "issued", "on_seam", "warnings")
	if n.Kind != yaml.MappingNode {
		return x
	}
	if v, ok := f["http_status"]; ok {
		if c, ok := l.integer(v, "expect.http_status"); ok {
			if c < 100 || c > 599 {
				l.addf(v, "expect.http_status %d is not an HTTP status", c)
			}
			x.HTTPStatus = c
		}
	}
	status, hasStatus := f["status"]
	if hasStatus {
		x.Status, _ = l.oneOf(status, "expect.status", "status", []string{"success", "error", StatusAny})
	}
	errNode, hasError := f["error"]
	if hasError {
		ef := l.fields(errNode, "expect.error", "type", "latest")
		if t, ok := ef["type"]; ok {
			if s, ok := l.str(t, "expect.error.type"); ok {
				if !errorTypePattern.MatchString(s) {
					l.addf(t, "expect.error.type %q must be a snake_case error type", s)
				}
				x.ErrorType = s
			}
		} else if errNode.Kind == yaml.MappingNode {
			l.addf(errNode, "expect.error needs a type")
		}
		if t, ok := ef["latest"]; ok {
			if s, ok := l.str(t, "expect.error.latest"); ok {
				if !errorTypePattern.MatchString(s) {
					l.addf(t, "expect.error.latest %q must be a snake_case error type", s)
				}
				if s == x.ErrorType {
					l.addf(t, "expect.error.latest %q is the same as type: leave it out", s)
				}
				x.LatestErrorType = s
			}
		}
	}
	if v, ok := f["card"]; ok {
		if s, ok := l.str(v, "expect.card"); ok {
			if !declared[s] {
				l.addf(v, "expect.card: no card named %q in cards", s)
			}
			x.Card = s
		}
	}
	if v, ok := f["written"]; ok {
		if v.Kind == yaml.MappingNode {
			x.Written, x.Contents = l.written(v)
		} else if s, ok := l.oneOf(v, "expect.written", "content", names(card.Kinds)); ok {
			x.Written = card.Kind(s)
		}
		if _, ok := f["card"]; !ok {
			l.addf(v, "expect.written needs expect.card: the card whose contents to check")
		}
		if scan && x.Contents != nil {
			l.addf(v, "expect.written with scan: a scan writes nothing, so give the content the card keeps (%s), not what an encode writes", strings.Join(names(card.Kinds), ", "))
		}
	}
	x.Read = l.scanRead(f, scan)
	if x.HTTPStatus != 200 {
		if hasStatus {
			l.addf(status, "expect.status with http_status %d: a refused call starts no attempt", x.HTTPStatus)
		}
		if !hasError {
			l.addf(n, "expect with http_status %d needs error.type, the API error's type", x.HTTPStatus)
		}
		if v, ok := f["card"]; ok {
			l.addf(v, "expect.card with http_status %d: a refused call writes no card", x.HTTPStatus)
		}
		return x
	}
	switch {
	case !hasStatus:
		l.addf(n, "expect.status is required (success or error)")
	case x.Status == "success" && hasError:
		l.addf(errNode, "expect.error with status success: a successful attempt has no error")
	case x.Status == "error" && !hasError:
		l.addf(status, "expect.status error needs error.type")
	case x.Status == StatusAny && hasError:
		l.addf(errNode, "expect.error with status any: any terminal status will do, so there is no error type to expect")
	case x.Status == StatusAny && x.Written != "":
		l.addf(f["written"], "expect.written with status any: what the card holds depends on the outcome, which the scenario leaves open")
	}
	if x.Read != nil && x.Status != "success" {
		l.addf(n, "expect.issued, on_seam and warnings are what a scan that succeeds reports: they need status success")
	}
	if x.Read != nil && x.Card == "" {
		l.addf(n, "expect.issued, on_seam and warnings need expect.card: the card the scan reads")
	}
	return x
}

// scanRead reads what a scan must report (issued, on_seam, warnings) out
// of an expectation's fields; nil when it names none of them.
func (l *loader) scanRead(f map[string]*yaml.Node, scan bool) *ScanRead {
	var r ScanRead
	named := false
	for _, key := range []string{"issued", "on_seam", "warnings"} {
		v, ok := f[key]
		if !ok {
			continue
		}
		named = true
		if !scan {
			l.addf(v, "expect.%s is what a scan reports: it needs scan: true on the encode", key)
		}
		switch key {
		case "issued":
			if b, ok := l.boolean(v, "expect.issued"); ok {
				r.Issued = &b
			}
		case "on_seam":
			r.OnSeam, _ = l.oneOf(v, "expect.on_seam", "finding", []string{OnSeamCredential, OnSeamNone})
		case "warnings":
			r.Warnings = []string{}
			for _, it := range l.list(v, "expect.warnings") {
				if w, ok := l.str(it, "expect.warnings entry"); ok {
					if !errorTypePattern.MatchString(w) {
						l.addf(it, "expect.warnings entry %q must be a snake_case warning code", w)
					}
					r.Warnings = append(r.Warnings, w)
				}
			}
		}
	}
	if !named {
		return nil
	}
	return &r
}

// written reads an expectation's written mapping: the content kind and
// what else the card must carry.
func (l *loader) written(n *yaml.Node) (card.Kind, *WrittenContents) {
	f := l.fields(n, "expect.written", "holds", "function", "valid_from", "valid_until", "label")
	var kind card.Kind
	if v, ok := f["holds"]; !ok {
		l.addf(n, "expect.written.holds is required (the content: %s)", strings.Join(names(card.Kinds), ", "))
	} else if s, ok := l.oneOf(v, "expect.written.holds", "content", names(card.Kinds)); ok {
		kind = card.Kind(s)
	}
	w := &WrittenContents{}
	if v, ok := f["function"]; ok {
		w.Function, _ = l.oneOf(v, "expect.written.function", "function", []string{"guest", "staff"})
	}
	bound := func(key string) *Bound {
		v, ok := f[key]
		if !ok {
			return nil
		}
		what := "expect.written." + key
		if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			switch v.Value {
			case "credential":
				return &Bound{Credential: true}
			case "none":
				return &Bound{None: true}
			}
		}
		t, err := time.Parse(time.RFC3339, v.Value)
		if v.Kind != yaml.ScalarNode || err != nil {
			l.addf(v, "%s must be credential (the credential's own bound), none (no bound) or an RFC 3339 time such as 2027-03-01T11:00:00Z, got %s", what, describe(v))
			return nil
		}
		return &Bound{At: t}
	}
	w.ValidFrom, w.ValidUntil = bound("valid_from"), bound("valid_until")
	if v, ok := f["label"]; ok {
		if s, ok := l.str(v, "expect.written.label"); ok {
			w.Label = &s
		}
	}
	if (w.Function != "" || w.ValidFrom != nil || w.ValidUntil != nil || w.Label != nil) && kind != card.Guest && kind != card.Staff {
		l.addf(n, "expect.written: function, validity and label are what an encode writes; they need holds: guest or staff")
	}
	return kind, w
}
