package api

import (
	"bytes"
	"encoding/json"
	"errors"
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
type params struct {
	body  map[string]json.RawMessage
	query url.Values
	// prefix names a nested object in error messages ("visionline_metadata.").
	prefix string
}

// readParams reads r's parameters. An empty POST body counts as {}. A
// body over maxBody is refused, and w told to close the connection.
func readParams(w http.ResponseWriter, r *http.Request, maxBody int64) (params, error) {
	if r.Method == http.MethodGet {
		return params{query: r.URL.Query()}, nil
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
		return params{body: map[string]json.RawMessage{}}, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return params{}, seam.InvalidInput("Content-Type %q is not supported: send application/json", ct)
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
	return params{body: body}, nil
}

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

func (p params) invalid(name, format string, args ...any) *seam.Error {
	e := seam.InvalidInput(format, args...)
	e.Message = p.prefix + name + " " + e.Message
	return e
}

// string returns the string parameter name and whether it was given.
func (p params) string(name string) (string, bool, error) {
	raw, q, ok := p.scalar(name)
	switch {
	case !ok:
		return "", false, nil
	case raw != nil:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, p.invalid(name, "must be a string")
		}
		return s, true, nil
	case len(q) > 1:
		return "", false, p.invalid(name, "must be given once")
	default:
		return q[0], true, nil
	}
}

// requiredUUID returns the UUID parameter name in canonical form.
func (p params) requiredUUID(name string) (string, error) {
	id, ok, err := p.optionalUUID(name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", p.invalid(name, "is required")
	}
	return id, nil
}

// optionalUUID returns the UUID parameter name in canonical form, if given.
func (p params) optionalUUID(name string) (string, bool, error) {
	s, ok, err := p.string(name)
	if err != nil || !ok {
		return "", false, err
	}
	id, err := parseUUID(s)
	if err != nil {
		return "", false, p.invalid(name, "%q is not a UUID", s)
	}
	return id, true, nil
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
func (p params) uuidList(name string) ([]string, error) {
	raw, q, ok := p.lookup(name)
	if !ok {
		return nil, nil
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &q); err != nil {
			return nil, p.invalid(name, "must be a list of strings")
		}
	}
	ids := make([]string, 0, len(q))
	for _, s := range q {
		id, err := parseUUID(s)
		if err != nil {
			return nil, p.invalid(name, "item %q is not a UUID", s)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// bool returns the boolean parameter name, nil when not given.
func (p params) bool(name string) (*bool, error) {
	raw, q, ok := p.scalar(name)
	if !ok {
		return nil, nil
	}
	var v bool
	if raw != nil {
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, p.invalid(name, "must be a boolean")
		}
		return &v, nil
	}
	if len(q) > 1 {
		return nil, p.invalid(name, "must be given once")
	}
	switch q[0] {
	case "true":
		v = true
	case "false":
	default:
		return nil, p.invalid(name, "must be true or false")
	}
	return &v, nil
}

// positiveInt returns the integer parameter name, which must be at least 1.
func (p params) positiveInt(name string) (int, bool, error) {
	raw, q, ok := p.scalar(name)
	if !ok {
		return 0, false, nil
	}
	text := string(raw)
	if raw == nil {
		if len(q) > 1 {
			return 0, false, p.invalid(name, "must be given once")
		}
		text = q[0]
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 {
		return 0, false, p.invalid(name, "must be a positive integer")
	}
	return n, true, nil
}

// object returns the nested object parameter name (JSON bodies only; a
// query string has no objects).
func (p params) object(name string) (params, bool, error) {
	raw, _, ok := p.lookup(name)
	if !ok {
		return params{}, false, nil
	}
	var body map[string]json.RawMessage
	if raw == nil || !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) || json.Unmarshal(raw, &body) != nil {
		return params{}, false, p.invalid(name, "must be an object")
	}
	return params{body: body, prefix: p.prefix + name + "."}, true, nil
}
