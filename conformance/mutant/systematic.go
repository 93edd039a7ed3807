package mutant

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/conformance"
)

// The named mutants break promises someone thought of. The systematic
// ones measure the suite instead: for every field the registry describes
// (each field check's path and format), one mutant replaces the field's
// value, in every answer that carries it, with a different valid value of
// the same type: another UUID, the datetime an hour later, another member
// of the enum, the other boolean, a longer string, a list one element
// shorter. A mutant the suite lets through is a field whose value it does
// not check; the share it catches is the suite's mutation score
// (TestSystematicMutationScore, make mutants-systematic).
//
// result.* fields are changed in the attempt's result and in every bare
// credential an answer carries (/acs/credentials/get, list, create),
// since they are the same object. Beside the fields, each status code the
// suite relies on becomes another of its class (200 → 201, 400 → 422,
// 401 → 403, 404 → 410) and each header another valid value.

// Systematic is one mutant per (field, change) of the registry, in its
// order.
var Systematic = systematic()

// SystematicField is the registry path a systematic mutant changes, and
// why the seeds leave its value free ("" when they do not).
func SystematicField(m Mutant) (path, free string) {
	return systematicPaths[m.Name], systematicFree[m.Name]
}

var systematicPaths, systematicFree = map[string]string{}, map[string]string{}

func systematic() []Mutant {
	var out []Mutant
	seen := map[string]bool{}
	for _, req := range conformance.Requirements().Requirements {
		c := req.Check
		if c.Kind != "field" || seen[c.Path] {
			continue
		}
		change, describe := changeFor(c)
		if change == nil {
			continue
		}
		seen[c.Path] = true
		name := "field-" + strings.Trim(nonWord.ReplaceAllString(c.Path, "-"), "-")
		systematicPaths[name] = c.Path
		systematicFree[name] = c.Free
		path := splitPath(c.Path)
		var once sync.Once
		out = append(out, Mutant{
			Name:   name,
			Breaks: fmt.Sprintf("%s is %s", c.Path, describe),
			Target: onResponse(func(x *exchange) {
				if changeEverywhere(x.Doc, path, change) {
					// Tells the score which mutants changed anything: a
					// field no answer carries is not a survivor.
					once.Do(func() { fmt.Fprintln(os.Stderr, ChangedMarker+c.Path) })
				}
			}),
		})
	}
	return append(out, answerMutants()...)
}

// answerMutants change what every answer carries besides its fields:
// each status code the suite relies on, to another of its class, and
// each header, to another valid value.
func answerMutants() []Mutant {
	var out []Mutant
	add := func(name, path, describe, free string, change func(x *exchange) bool) {
		systematicPaths[name] = path
		systematicFree[name] = free
		var once sync.Once
		out = append(out, Mutant{
			Name:   name,
			Breaks: path + " is " + describe,
			Target: onResponse(func(x *exchange) {
				if change(x) {
					once.Do(func() { fmt.Fprintln(os.Stderr, ChangedMarker+path) })
				}
			}),
		})
	}
	for _, c := range []struct{ from, to int }{
		{200, 201}, {400, 422}, {401, 403}, {404, 410},
	} {
		add(fmt.Sprintf("status-%d", c.from), fmt.Sprintf("HTTP status %d", c.from), fmt.Sprintf("%d, another of its class", c.to), "",
			func(x *exchange) bool {
				if x.Status != c.from {
					return false
				}
				x.Status = c.to
				return true
			})
	}
	add("header-content-type", "header Content-Type", "text/plain; charset=utf-8", "",
		func(x *exchange) bool {
			if x.Header.Get("Content-Type") == "" {
				return false
			}
			x.Header.Set("Content-Type", "text/plain; charset=utf-8")
			return true
		})
	add("header-seam-request-id", "header seam-request-id", "another UUID",
		"a request id is the server's own name for the request: the seeds and REFERENCE ask only that every answer carries one",
		func(x *exchange) bool {
			id := x.Header.Get("seam-request-id")
			if id == "" {
				return false
			}
			x.Header.Set("seam-request-id", otherUUID(id))
			return true
		})
	return out
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// splitPath splits a registry path ("result.warnings[].warning_code").
func splitPath(p string) []string { return strings.Split(p, ".") }

// changeFor returns the replacement for a field of c's format, and how
// it reads in the kill table; nil for a format with no same-type change
// (an object: its own fields have theirs).
func changeFor(c conformance.Check) (func(any) (any, bool), string) {
	switch c.Format {
	case "uuid":
		return func(v any) (any, bool) {
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, false
			}
			return otherUUID(s), true
		}, "another UUID"
	case "datetime", "iso8601":
		return func(v any) (any, bool) { return shifted(v, time.Hour) }, "an hour later"
	case "enum":
		enum := c.Enum
		return func(v any) (any, bool) {
			s, ok := v.(string)
			if !ok || len(enum) < 2 {
				return nil, false
			}
			for i, e := range enum {
				if e == s {
					return enum[(i+1)%len(enum)], true
				}
			}
			return nil, false
		}, "another member of its enum"
	case "boolean":
		return func(v any) (any, bool) {
			b, ok := v.(bool)
			return !b, ok
		}, "the other boolean"
	case "string":
		return func(v any) (any, bool) {
			s, ok := v.(string)
			return s + " (changed)", ok
		}, "another string"
	case "list-of-objects", "list-of-strings", "list-of-uuids":
		return func(v any) (any, bool) {
			l, ok := v.([]any)
			if !ok || len(l) == 0 {
				return nil, false
			}
			return l[:len(l)-1], true
		}, "one element shorter"
	}
	return nil, ""
}

// ChangedMarker starts the line a systematic mutant writes to standard
// error the first time it changes a value.
const ChangedMarker = "encoderlab-mutant: changed "

// changeEverywhere applies change at path in the answer's attempt and,
// for result.* paths, in every credential the answer carries. It reports
// whether it changed anything.
func changeEverywhere(doc map[string]any, path []string, change func(any) (any, bool)) bool {
	changed := false
	if path[0] == "result" {
		for _, c := range credentialsIn(doc) {
			changed = changeAt(c, path[1:], change) || changed
		}
		return changed
	}
	if a := attemptIn(doc); a != nil {
		changed = changeAt(a, path, change)
	}
	return changed
}

// changeAt applies change to the value at path under m; a segment
// ending in [] walks every element of a list.
func changeAt(m map[string]any, path []string, change func(any) (any, bool)) bool {
	name, list := strings.CutSuffix(path[0], "[]")
	v, ok := m[name]
	if !ok {
		return false
	}
	if len(path) == 1 {
		nv, ok := change(v)
		if ok {
			m[name] = nv
		}
		return ok
	}
	changed := false
	if list {
		items, _ := v.([]any)
		for _, it := range items {
			if sub, ok := it.(map[string]any); ok {
				changed = changeAt(sub, path[1:], change) || changed
			}
		}
		return changed
	}
	if sub, ok := v.(map[string]any); ok {
		return changeAt(sub, path[1:], change)
	}
	return false
}
