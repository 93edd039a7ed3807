package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/google/uuid"
)

// params are a request's parameters: the members of a JSON object body
// (POST) or the query string (GET). A JSON null counts as not given.
//
// The accessors never stop a handler: a parameter that is missing or of
// the wrong form is noted and read as not given, so that the handler goes
// on to the next one and, through problems, the answer names every
// problem at once (Seam's validation_errors).
type params struct {
	body  map[string]json.RawMessage
	query url.Values
	// path names a nested object ("visionline_metadata"); nil at the top.
	path []string
	// probs is shared by a request's params and the objects inside them.
	probs *problems
}

// readParams reads r's parameters. An empty POST body counts as {}. A
// body over maxBody is refused, and w told to close the connection.
func readParams(w http.ResponseWriter, r *http.Request, maxBody int64) (params, error) {
	// A DELETE carries its parameters in the query string, as Seam's SDK
	// sends them, unless it has a body.
	if r.Method == http.MethodGet || (r.Method == http.MethodDelete && r.ContentLength <= 0 && r.URL.RawQuery != "") {
		return params{query: r.URL.Query(), probs: &problems{}}, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return params{}, &seam.Error{Status: http.StatusRequestEntityTooLarge, Type: "payload_too_large",
				Message: "request body is larger than " + strconv.FormatInt(maxBody, 10) + " bytes"}
		}
		return params{}, seam.InvalidInput("reading request body: %v", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return params{body: map[string]json.RawMessage{}, probs: &problems{}}, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return params{}, badContentType(ct)
	}
	if b[0] != '{' {
		return params{}, seam.InvalidInput("request body must be a JSON object")
	}
	var body map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&body); err != nil {
		return params{}, seam.InvalidInput("request body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return params{}, seam.InvalidInput("request body has data after its JSON object")
	}
	return params{body: body, probs: &problems{}}, nil
}

// badContentType refuses a body that is not JSON. Its type is
// invalid_input; a workspace of the latest profile sees
// invalid_content_type (see serve).
func badContentType(ct string) *seam.Error {
	e := seam.InvalidInput("Content-Type %q is not supported: send application/json", ct)
	e.Type = typeInvalidContentType
	return e
}

const typeInvalidContentType = "invalid_content_type"

// isJSON reports whether a Content-Type names JSON.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// lookup returns the raw JSON value, or the query values, of name.
//
// In a query string, a lone empty value ("name=") comes back as given
// with no values: Seam's SDKs write both null and an empty list that way,
// so a list reads it as empty and a single value (see scalar) as not
// given, as a JSON body's [] and null would be.
func (p params) lookup(name string) (raw json.RawMessage, query []string, ok bool) {
	if p.body != nil {
		raw, ok = p.body[name]
		if ok && string(raw) == "null" {
			return nil, nil, false
		}
		return raw, nil, ok
	}
	query = slices.Concat(p.query[name], p.query[name+"[]"])
	if len(query) == 1 && query[0] == "" {
		return nil, []string{}, true
	}
	return nil, query, len(query) > 0
}

// scalar is lookup for a parameter that takes one value: an empty query
// value counts as not given.
func (p params) scalar(name string) (raw json.RawMessage, query []string, ok bool) {
	raw, query, ok = p.lookup(name)
	if ok && raw == nil && len(query) == 0 {
		return nil, nil, false
	}
	return raw, query, ok
}

// invalid notes that parameter name is wrong.
func (p params) invalid(name, format string, args ...any) {
	p.probs.add(append(slices.Clone(p.path), name), fmt.Sprintf(format, args...))
}

// invalidWhole notes that the parameters as a whole are wrong (no one
// of them is).
func (p params) invalidWhole(format string, args ...any) {
	p.probs.add(p.path, fmt.Sprintf(format, args...))
}

// only notes every parameter of a JSON body not in names, as Seam's
// strict request schemas refuse them.
func (p params) only(names ...string) {
	var extra []string
	for k := range p.body {
		if !slices.Contains(names, k) {
			extra = append(extra, k)
		}
	}
	if p.body == nil {
		for k := range p.query {
			if !slices.Contains(names, strings.TrimSuffix(k, "[]")) {
				extra = append(extra, k)
			}
		}
	}
	if len(extra) == 0 {
		return
	}
	slices.Sort(extra)
	p.probs.add(p.path, fmt.Sprintf("unrecognized key(s) %s; this endpoint takes %s",
		quoteAll(extra), strings.Join(names, ", ")))
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// problems returns the request's invalid_input refusal, or nil when every
// parameter read so far was right.
func (p params) problems() error {
	if p.probs.empty() {
		return nil
	}
	return p.probs.refusal()
}

// string returns the string parameter name and whether it was given.
func (p params) string(name string) (string, bool) {
	raw, q, ok := p.scalar(name)
	switch {
	case !ok:
		return "", false
	case raw != nil:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			p.invalid(name, "must be a string")
			return "", false
		}
		return s, true
	case len(q) > 1:
		p.invalid(name, "must be given once")
		return "", false
	default:
		return q[0], true
	}
}

// requiredString returns the string parameter name.
func (p params) requiredString(name string) string {
	if _, _, ok := p.scalar(name); !ok {
		p.invalid(name, "is required")
		return ""
	}
	s, _ := p.string(name)
	return s
}

// requiredUUID returns the UUID parameter name in canonical form.
func (p params) requiredUUID(name string) string {
	if _, _, ok := p.scalar(name); !ok {
		p.invalid(name, "is required")
		return ""
	}
	id, _ := p.optionalUUID(name)
	return id
}

// optionalUUID returns the UUID parameter name in canonical form, if given.
func (p params) optionalUUID(name string) (string, bool) {
	s, ok := p.string(name)
	if !ok {
		return "", false
	}
	id, err := parseUUID(s)
	if err != nil {
		p.invalid(name, "%q is not a UUID", s)
		return "", false
	}
	return id, true
}

// parseUUID accepts only the 36-character hyphenated form and returns it
// in lower case, the form every id is stored in.
func parseUUID(s string) (string, error) {
	if len(s) != 36 {
		return "", errors.New("not a UUID")
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// uuidList returns the list of UUIDs name, nil when not given.
func (p params) uuidList(name string) []string {
	raw, q, ok := p.lookup(name)
	if !ok {
		return nil
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &q); err != nil {
			p.invalid(name, "must be a list of strings")
			return nil
		}
	}
	ids := make([]string, 0, len(q))
	for _, s := range q {
		id, err := parseUUID(s)
		if err != nil {
			p.invalid(name, "item %q is not a UUID", s)
			return nil
		}
		ids = append(ids, id)
	}
	return ids
}

// bool returns the boolean parameter name, nil when not given.
func (p params) bool(name string) *bool {
	raw, q, ok := p.scalar(name)
	if !ok {
		return nil
	}
	var v bool
	if raw != nil {
		if err := json.Unmarshal(raw, &v); err != nil {
			p.invalid(name, "must be a boolean")
			return nil
		}
		return &v
	}
	if len(q) > 1 {
		p.invalid(name, "must be given once")
		return nil
	}
	switch q[0] {
	case "true":
		v = true
	case "false":
	default:
		p.invalid(name, "must be true or false")
		return nil
	}
	return &v
}

// positiveInt returns the integer parameter name, which must be at least 1.
func (p params) positiveInt(name string) (int, bool) {
	raw, q, ok := p.scalar(name)
	if !ok {
		return 0, false
	}
	text := string(raw)
	if raw == nil {
		if len(q) > 1 {
			p.invalid(name, "must be given once")
			return 0, false
		}
		text = q[0]
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 {
		p.invalid(name, "must be a positive integer")
		return 0, false
	}
	return n, true
}

// oneOf returns the string parameter name, which must be one of values;
// def when not given.
func (p params) oneOf(name, def string, values ...string) string {
	s, ok := p.string(name)
	if !ok {
		return def
	}
	if !slices.Contains(values, s) {
		p.invalid(name, "%q is not one of %s", s, strings.Join(values, ", "))
		return def
	}
	return s
}

// object returns the nested object parameter name (JSON bodies only; a
// query string has no objects).
func (p params) object(name string) (params, bool) {
	raw, _, ok := p.lookup(name)
	if !ok {
		return params{}, false
	}
	var body map[string]json.RawMessage
	if raw == nil || !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) || json.Unmarshal(raw, &body) != nil {
		p.invalid(name, "must be an object")
		return params{}, false
	}
	return params{body: body, path: append(slices.Clone(p.path), name), probs: p.probs}, true
}

// nullableString returns the string parameter name, and whether it was
// given as a string; null counts as not given, as Seam's schemas mark
// such parameters (page_cursor) nullable.
func (p params) nullableString(name string) (string, bool) {
	if raw, _, ok := p.scalar(name); ok && raw != nil && bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", false
	}
	return p.string(name)
}

// page is what a list request asks of the list's pages: limit items from
// the one cursor names.
type page struct {
	limit  int // 0: no limit
	cursor string
	paged  bool
}

// page reads limit and page_cursor.
func (p params) page() page {
	var pg page
	pg.limit, _ = p.positiveInt("limit")
	pg.cursor, pg.paged = p.nullableString("page_cursor")
	return pg
}
