package conformance

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/pipeline/seam"
)

//go:embed requirements.yaml
var requirementsYAML []byte

// Profile is a revision of the spec a run certifies against.
type Profile struct {
	ID    string `yaml:"id"`
	Seed  string `yaml:"seed"`
	Title string `yaml:"title"`
}

// Requirement is one documented promise of the spec: what MUST hold, where
// the spec says so, which profiles demand it and which check verifies it.
type Requirement struct {
	ID       string   `yaml:"id"`
	Must     string   `yaml:"must"`
	Source   Source   `yaml:"source"`
	Profiles []string `yaml:"profiles"`
	Check    Check    `yaml:"check"`
	// Line is where the entry starts in requirements.yaml.
	Line int `yaml:"-"`
}

// Source is where the spec states a requirement.
type Source struct {
	Doc     string `yaml:"doc"`
	Section string `yaml:"section"`
}

// Check names the check that verifies a requirement and its parameters.
// Kind selects the check; the other fields are its parameters.
type Check struct {
	Kind string `yaml:"kind"`

	Method    string   `yaml:"method,omitempty"`     // auth
	Param     string   `yaml:"param,omitempty"`      // param-required, param-type, unknown-id
	Type      string   `yaml:"type,omitempty"`       // param-type
	ErrorType string   `yaml:"error_type,omitempty"` // unknown-id, outcome
	Rule      string   `yaml:"rule,omitempty"`       // convention, lifecycle, invariant, request
	Path      string   `yaml:"path,omitempty"`       // field
	Format    string   `yaml:"format,omitempty"`     // field
	Presence  string   `yaml:"presence,omitempty"`   // field
	Enum      []string `yaml:"enum,omitempty"`       // field
	When      string   `yaml:"when,omitempty"`       // field
	NonEmpty  bool     `yaml:"non_empty,omitempty"`  // field of format string
	Status    string   `yaml:"status,omitempty"`     // status-invariant, outcome
	Effect    string   `yaml:"effect,omitempty"`     // issue-effect
	// Expect, for a field, says where the suite knows the field's right
	// value from (relational.go): request, lab, call, created,
	// create-window or encode-window. Empty: only its form is checked.
	Expect string `yaml:"expect,omitempty"` // field
	// Free, for a field, says why the seeds leave its value open, so
	// that the systematic mutation score (conformance/mutant) counts a
	// change the suite lets through there as justified, not missed.
	Free string `yaml:"free,omitempty"` // field
}

// Registry is the set of requirements a run is certified against.
type Registry struct {
	Profiles     []Profile     `yaml:"profiles"`
	Requirements []Requirement `yaml:"requirements"`
}

// The values each check parameter may take.
var (
	checkKinds = []string{"auth", "param-required", "param-type", "unknown-id", "convention", "field",
		"status-invariant", "outcome", "issue-effect", "lifecycle", "validity", "scenario", "invariant", "request", "events", "scan"}
	authMethods = []string{"api-key", "pat-with-workspace", "pat-without-workspace", "missing-token", "invalid-token",
		"near-miss", "pat-other-workspace", "cross-workspace-ids"}
	conventionRules = []string{"ok-true", "error-envelope", "request-id", "get-and-post", "json-content-type"}
	lifecycleRules  = []string{"pending-first", "one-terminal", "deadline", "attempt-id-unique", "same-attempt", "one-encode-per-call"}
	fieldFormats    = []string{"uuid", "string", "datetime", "iso8601", "boolean", "enum", "object",
		"list-of-objects", "list-of-strings", "list-of-uuids"}
	fieldPresences = []string{"always", "nullable", "optional"}
	fieldExpects   = []string{"", "request", "lab", "call", "created", "create-window", "encode-window", "since-create", "suite-created"}
	fieldWhens     = []string{"", "success", "error"}
	statuses       = []string{"pending", "success", "error"}
	issueEffects   = []string{"is-issued", "issued-at", "card-number", "waiting-warning-removed",
		"visionline-card-id", "vostio-key-id", "unchanged-on-error", "stored", "waiting-before", "card-contents"}
	// errorTypes are the encode error types of every profile: the
	// latest one's are the seeds' five and five more.
	errorTypes = seam.ProfileLatest.EncodeErrorTypes()
)

var idPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9_.]+)+$`)

// Requirements returns the bundled registry. It panics if the embedded
// file is invalid, which TestRegistryIsValid rules out.
func Requirements() *Registry {
	r, err := ParseRegistry(requirementsYAML)
	if err != nil {
		panic("conformance: " + err.Error())
	}
	return r
}

// ParseRegistry decodes and checks a registry, reporting every problem.
func ParseRegistry(b []byte) (*Registry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("requirements: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var r Registry
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("requirements: %w", err)
	}
	// Keep each entry's line so failures can point at it.
	if len(doc.Content) == 1 {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "requirements" {
				for j, n := range root.Content[i+1].Content {
					if j < len(r.Requirements) {
						r.Requirements[j].Line = n.Line
					}
				}
			}
		}
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *Registry) validate() error {
	var problems []string
	bad := func(req *Requirement, format string, args ...any) {
		where := "requirements.yaml"
		if req != nil {
			where = fmt.Sprintf("requirements.yaml:%d: %s", req.Line, req.ID)
		}
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	profiles := map[string]bool{}
	for _, p := range r.Profiles {
		if profiles[p.ID] {
			bad(nil, "profile %q listed twice", p.ID)
		}
		profiles[p.ID] = true
	}
	if len(profiles) == 0 {
		bad(nil, "no profiles")
	}
	seen := map[string]bool{}
	oneOf := func(req *Requirement, what, v string, allowed []string) {
		if !slices.Contains(allowed, v) {
			bad(req, "%s %q is not one of %s", what, v, strings.Join(allowed, ", "))
		}
	}
	for i := range r.Requirements {
		req := &r.Requirements[i]
		if !idPattern.MatchString(req.ID) {
			bad(req, "id must be upper-case words joined by '-'")
		}
		if seen[req.ID] {
			bad(req, "id used twice")
		}
		seen[req.ID] = true
		if !strings.Contains(req.Must, "MUST") {
			bad(req, "the must sentence says no MUST")
		}
		if req.Source.Doc == "" || req.Source.Section == "" {
			bad(req, "source needs doc and section")
		}
		if len(req.Profiles) == 0 {
			bad(req, "no profiles")
		}
		for _, p := range req.Profiles {
			if !profiles[p] {
				bad(req, "unknown profile %q", p)
			}
		}
		c := req.Check
		oneOf(req, "check kind", c.Kind, checkKinds)
		switch c.Kind {
		case "auth":
			oneOf(req, "auth method", c.Method, authMethods)
		case "param-required", "param-type":
			if c.Param == "" {
				bad(req, "%s needs param", c.Kind)
			}
		case "unknown-id":
			if c.Param == "" || !strings.HasSuffix(c.ErrorType, "_not_found") {
				bad(req, "unknown-id needs param and a *_not_found error_type")
			}
		case "convention":
			oneOf(req, "convention rule", c.Rule, conventionRules)
		case "lifecycle":
			oneOf(req, "lifecycle rule", c.Rule, lifecycleRules)
		case "field":
			if c.Path == "" {
				bad(req, "field needs path")
			}
			oneOf(req, "field format", c.Format, fieldFormats)
			oneOf(req, "field presence", c.Presence, fieldPresences)
			oneOf(req, "field when", c.When, fieldWhens)
			oneOf(req, "field expect", c.Expect, fieldExpects)
			if c.Free != "" && c.Expect != "" && c.Expect != "created" {
				bad(req, "a field whose value the suite knows (expect: %s) is not free", c.Expect)
			}
			if c.Expect != "" && !relational(c.Path, c.Expect) {
				bad(req, "the suite has no %s value for %s (relational.go)", c.Expect, c.Path)
			}
			if (c.Format == "enum") != (len(c.Enum) > 0) {
				bad(req, "enum values go with format enum, and only with it")
			}
		case "status-invariant":
			oneOf(req, "status", c.Status, statuses)
		case "outcome":
			if (c.Status == "") == (c.ErrorType == "") {
				bad(req, "outcome needs either status: success or error_type")
			}
			if c.Status != "" && c.Status != "success" {
				bad(req, "outcome status must be success (an error outcome names its error_type)")
			}
			if c.ErrorType != "" {
				oneOf(req, "error type", c.ErrorType, errorTypes)
			}
		case "issue-effect":
			oneOf(req, "issue effect", c.Effect, issueEffects)
		case "invariant":
			oneOf(req, "invariant rule", c.Rule, invariantRules)
		case "scan":
			oneOf(req, "scan rule", c.Rule, scanRules)
		case "request":
			oneOf(req, "request rule", c.Rule, requestRules)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid requirement registry:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// Profile returns the profile with that id, or nil.
func (r *Registry) Profile(id string) *Profile {
	for i := range r.Profiles {
		if r.Profiles[i].ID == id {
			return &r.Profiles[i]
		}
	}
	return nil
}

// For returns the requirements a profile demands, in registry order.
func (r *Registry) For(profile string) []Requirement {
	var out []Requirement
	for _, req := range r.Requirements {
		if slices.Contains(req.Profiles, profile) {
			out = append(out, req)
		}
	}
	return out
}

// Get returns the requirement with that id, or nil.
func (r *Registry) Get(id string) *Requirement {
	for i := range r.Requirements {
		if r.Requirements[i].ID == id {
			return &r.Requirements[i]
		}
	}
	return nil
}
