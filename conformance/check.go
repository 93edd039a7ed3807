package conformance

import (
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed schema/*.json
var schemaFS embed.FS

const attemptSchemaURL = "https://encoderlab.dev/schema/encode_credential/action_attempt.json"

var (
	schemasOnce sync.Once
	attemptSch  *jsonschema.Schema
	credSch     *jsonschema.Schema
	schemasErr  error
)

func schemas() (*jsonschema.Schema, *jsonschema.Schema, error) {
	schemasOnce.Do(func() {
		raw, err := schemaFS.ReadFile("schema/action_attempt.schema.json")
		if err != nil {
			schemasErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			schemasErr = fmt.Errorf("conformance: action attempt schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource(attemptSchemaURL, doc); err != nil {
			schemasErr = err
			return
		}
		if attemptSch, schemasErr = c.Compile(attemptSchemaURL); schemasErr != nil {
			return
		}
		credSch, schemasErr = c.Compile(attemptSchemaURL + "#/$defs/acs_credential")
	})
	return attemptSch, credSch, schemasErr
}

// CheckActionAttempt checks one action attempt object, as JSON, against
// every documented field of the encode_credential return type: presence,
// type, format (UUID, datetime in UTC with Z), enum values, and the status
// invariants. It returns every problem found, each naming the field; an
// empty slice means the attempt conforms.
func CheckActionAttempt(attemptJSON []byte) []string {
	sch, _, err := schemas()
	if err != nil {
		return []string{err.Error()}
	}
	return validate(sch, attemptJSON)
}

// CheckCredential checks one acs_credential object, as JSON, the same way.
func CheckCredential(credentialJSON []byte) []string {
	_, sch, err := schemas()
	if err != nil {
		return []string{err.Error()}
	}
	return validate(sch, credentialJSON)
}

var printer = message.NewPrinter(language.English)

func validate(sch *jsonschema.Schema, raw []byte) []string {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []string{fmt.Sprintf("not JSON: %v", err)}
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []string{err.Error()}
	}
	seen := map[string]bool{}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			p := "/" + strings.Join(e.InstanceLocation, "/")
			msg := fmt.Sprintf("%s: %s", p, e.ErrorKind.LocalizedString(printer))
			if !seen[msg] {
				seen[msg] = true
				out = append(out, msg)
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.Strings(out)
	return out
}
