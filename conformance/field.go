package conformance

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// checkField checks one documented field (c.Kind == "field") in doc, an
// action attempt decoded from JSON, and returns every problem. Presence is
// relative to the field's parent: a field of an absent or null object, or
// of an empty list, has nothing to check.
func checkField(c Check, doc map[string]any) []string {
	return checkFieldAt(c, strings.Split(c.Path, "."), doc)
}

// checkCredentialField checks a result.* field on a bare acs_credential
// (as /acs/credentials/get returns it), which is the same type.
func checkCredentialField(c Check, cred map[string]any) []string {
	segs := strings.Split(c.Path, ".")
	if len(segs) < 2 || segs[0] != "result" {
		return nil
	}
	return checkFieldAt(c, segs[1:], cred)
}

func checkFieldAt(c Check, segs []string, root map[string]any) []string {
	type node struct {
		path string
		v    map[string]any
	}
	parents := []node{{"", root}}
	for _, seg := range segs[:len(segs)-1] {
		name, list := strings.CutSuffix(seg, "[]")
		var next []node
		for _, p := range parents {
			child, ok := p.v[name]
			if !ok || child == nil {
				continue // parent absent: presence is relative to it
			}
			path := p.path + "/" + name
			if list {
				items, ok := child.([]any)
				if !ok {
					continue // the list's own requirement reports its type
				}
				for i, it := range items {
					if m, ok := it.(map[string]any); ok {
						next = append(next, node{fmt.Sprintf("%s/%d", path, i), m})
					}
				}
				continue
			}
			if m, ok := child.(map[string]any); ok {
				next = append(next, node{path, m})
			}
		}
		parents = next
	}
	last := segs[len(segs)-1]
	var problems []string
	for _, p := range parents {
		path := p.path + "/" + last
		v, present := p.v[last]
		switch {
		case !present && c.Presence != "optional":
			problems = append(problems, fmt.Sprintf("%s: missing; it must always be present", path))
		case present && v == nil && c.Presence != "nullable":
			problems = append(problems, fmt.Sprintf("%s: null; it must be omitted when it does not apply, never null", path))
		case present && v != nil:
			if msg := checkFormat(c, v); msg != "" {
				problems = append(problems, fmt.Sprintf("%s: %s", path, msg))
			}
		}
	}
	return problems
}

// checkFormat returns what is wrong with a non-null value of a field, or "".
func checkFormat(c Check, v any) string {
	got := func() string { b, _ := json.Marshal(v); return string(b) }
	str, isStr := v.(string)
	switch c.Format {
	case "uuid":
		if !isStr || !uuidPattern.MatchString(str) {
			return fmt.Sprintf("got %s, want a UUID", got())
		}
	case "string":
		if !isStr {
			return fmt.Sprintf("got %s, want a string", got())
		}
		if c.NonEmpty && str == "" {
			return "got an empty string, want a non-empty one"
		}
	case "datetime":
		if !isStr {
			return fmt.Sprintf("got %s, want an ISO 8601 datetime in UTC", got())
		}
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil || !strings.HasSuffix(str, "Z") {
			return fmt.Sprintf("got %s, want an ISO 8601 datetime in UTC ending Z, such as 2026-11-25T10:00:00.000Z", got())
		}
	case "iso8601":
		if !isStr {
			return fmt.Sprintf("got %s, want an ISO 8601 datetime string", got())
		}
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			return fmt.Sprintf("got %s, want an ISO 8601 datetime", got())
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("got %s, want a boolean", got())
		}
	case "enum":
		if !isStr || !slices.Contains(c.Enum, str) {
			return fmt.Sprintf("got %s, want one of %s", got(), strings.Join(c.Enum, ", "))
		}
	case "object":
		if _, ok := v.(map[string]any); !ok {
			return fmt.Sprintf("got %s, want an object", got())
		}
	case "list-of-objects", "list-of-strings", "list-of-uuids":
		items, ok := v.([]any)
		if !ok {
			return fmt.Sprintf("got %s, want a list", got())
		}
		for i, it := range items {
			var ok bool
			switch c.Format {
			case "list-of-objects":
				_, ok = it.(map[string]any)
			case "list-of-strings":
				_, ok = it.(string)
			case "list-of-uuids":
				s, isS := it.(string)
				ok = isS && uuidPattern.MatchString(s)
			}
			if !ok {
				b, _ := json.Marshal(it)
				return fmt.Sprintf("item %d is %s, want %s", i, b, strings.TrimPrefix(c.Format, "list-of-"))
			}
		}
	}
	return ""
}

// CheckActionAttempt checks one action attempt, as JSON, against every
// field and status requirement the profile demands of an attempt alone:
// presence, null only where allowed, type, format (UUID, datetime in UTC
// with Z), enum values, and the status invariants. It returns every
// problem, each starting with the requirement it breaks; none means the
// attempt conforms. Like testing/fstest, it collects rather than stops.
func CheckActionAttempt(reg *Registry, profile string, attemptJSON []byte) []string {
	var doc map[string]any
	if err := json.Unmarshal(attemptJSON, &doc); err != nil || doc == nil {
		return []string{fmt.Sprintf("not a JSON object: %q", attemptJSON)}
	}
	var problems []string
	for _, req := range reg.For(profile) {
		c := req.Check
		switch c.Kind {
		case "field":
			if c.When != "" && doc["status"] != c.When {
				continue
			}
			for _, p := range checkField(c, doc) {
				problems = append(problems, req.ID+": "+p)
			}
		case "status-invariant":
			if doc["status"] == c.Status {
				if msg := invariant(c.Status, doc); msg != "" {
					problems = append(problems, req.ID+": "+msg)
				}
			}
		}
	}
	return problems
}
