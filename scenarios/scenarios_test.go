package scenarios_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

func TestBundledScenariosLoad(t *testing.T) {
	all, err := scenarios.All()
	if err != nil {
		t.Fatalf("All() = %v", err)
	}
	names := scenarios.Names()
	if len(all) != len(names) || len(names) == 0 {
		t.Fatalf("All() = %d scenarios, Names() = %d, want the same, more than 0", len(all), len(names))
	}
	seen := map[string]bool{}
	for i, s := range all {
		if s.Name != names[i] {
			t.Errorf("%s: name %q, want the file name %q", s.File, s.Name, names[i])
		}
		if seen[s.Name] {
			t.Errorf("%s: name %q is used twice", s.File, s.Name)
		}
		seen[s.Name] = true
		if s.File != names[i]+".yaml" {
			t.Errorf("Load(%q).File = %q, want %q", names[i], s.File, names[i]+".yaml")
		}
		if _, err := scenario.Cards(s); err != nil {
			t.Errorf("%s: Cards: %v", s.File, err)
		}
	}
}

func TestNamesSortedWithoutExtension(t *testing.T) {
	names := scenarios.Names()
	if !slices.IsSorted(names) {
		t.Errorf("Names() = %v, not sorted", names)
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".yaml") || n == "" {
			t.Errorf("Names() holds %q, want a bare name", n)
		}
	}
	// The library the suite relies on: these must stay.
	for _, want := range []string{"first-issue", "empty-reader", "staff-card-refused", "hangup-then-recover", "unknown-credential"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() lacks %q", want)
		}
	}
}

func TestLoadUnknownName(t *testing.T) {
	for _, name := range []string{"no-such-scenario", "../go", "scenario.schema.json", ""} {
		if s, err := scenarios.Load(name); err == nil || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q) = %v, %v; want an fs.ErrNotExist error", name, s, err)
		}
	}
	s, err := scenarios.Load("empty-reader.yaml")
	if err != nil || s.Name != "empty-reader" {
		t.Errorf("Load(\"empty-reader.yaml\") = %v, %v; want the empty-reader scenario", s, err)
	}
}

// TestScenariosMatchLab checks that every bundled scenario fits the lab
// (scenario.CheckLab): an encoder of the lab's first workspace, driven
// with the scenario's model, with a credential of that encoder's own
// system and one of its users.
func TestScenariosMatchLab(t *testing.T) {
	lab := fixtures.Bundled()
	ws := lab.Workspaces[0]
	all, err := scenarios.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if err := scenario.CheckLab(s, lab); err != nil {
			t.Errorf("%v", err)
		}
		if !slices.ContainsFunc(ws.Encoders, func(e *fixtures.Encoder) bool { return e.DisplayName == s.Encoder.ID }) {
			t.Errorf("%s: encoder %q is not in the lab's workspace %q", s.File, s.Encoder.ID, ws.Name)
		}
	}
}

// TestEveryFileSaysWhy checks that each scenario carries a comment
// explaining its expected outcome, as the library's convention asks.
func TestEveryFileSaysWhy(t *testing.T) {
	for _, n := range scenarios.Names() {
		data, err := fs.ReadFile(scenarios.FS, n+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		comments := 0
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "#") && !strings.Contains(l, "yaml-language-server") {
				comments++
			}
		}
		if comments == 0 {
			t.Errorf("%s.yaml: no comment saying why the outcome is right", n)
		}
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := fs.ReadFile(scenarios.FS, scenarios.SchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", scenarios.SchemaFile, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(scenarios.SchemaFile, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(scenarios.SchemaFile)
	if err != nil {
		t.Fatalf("compile %s: %v", scenarios.SchemaFile, err)
	}
	return sch
}

// instance turns YAML into the JSON values the validator expects, going
// through encoding/json so numbers and maps take JSON's shapes.
func instance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("YAML not representable as JSON: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBundledScenariosMatchSchema(t *testing.T) {
	sch := compileSchema(t)
	for _, n := range scenarios.Names() {
		data, err := fs.ReadFile(scenarios.FS, n+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(instance(t, data)); err != nil {
			t.Errorf("%s.yaml does not match %s: %v", n, scenarios.SchemaFile, err)
		}
	}
}

// TestSchemaAgreesWithLoader feeds documents to both the schema and the
// loader: each must accept the good ones and reject the bad ones, so the
// schema editors see cannot drift from what the loader enforces.
func TestSchemaAgreesWithLoader(t *testing.T) {
	sch := compileSchema(t)
	const head = "name: x\nencoder: {model: pms, id: front-desk-1}\ncredential: {system: visionline-hotel}\n"
	const two = "name: x\nencoders:\n  - {model: pms, id: front-desk-1, commands: {encode: 1}}\n  - {model: pn532, id: nfc-desk-1}\ncredential: {system: visionline-hotel}\n"
	const refused = "name: x\nencoder: {model: pms, id: front-desk-1}\n" +
		"credential: {system: visionline-hotel, starts_in: 2h, ends_in: 1h, expect: {http_status: 400, error: {type: invalid_input}}}\n"
	cases := []struct {
		name, doc string
		ok        bool
	}{
		{"minimal", head + "expect: {status: success}\n", true},
		{"full", head + "cards:\n  c: {tech: desfire, uid: 04A224B1C3D4E5, holds: guest, card_id: \"00112233AABBCCDD\"}\n" +
			"steps:\n  - place: c\n  - await: encode\n  - reply: ok\n  - wait: 1.5s\n  - remove: c\n  - silence: false\n  - nak: 2\n  - garble: 1\n  - busy: 3\n  - hangup: true\n" +
			"encodes:\n  - expect: {status: success, card: c, written: guest}\n  - acs_encoder_id: unknown\n    expect: {http_status: 404, error: {type: acs_encoder_not_found}}\ncommands: {encode: 1, read: 0, cancel: 0}\n", true},
		{"unknown key", head + "expect: {status: success}\nextra: 1\n", false},
		{"no expect", head, false},
		{"both expect and encodes", head + "expect: {status: success}\nencodes: [{expect: {status: success}}]\n", false},
		{"unknown op", head + "steps: [{jump: 1}]\nexpect: {status: success}\n", false},
		{"two ops in a step", head + "steps: [{nak: 1, garble: 1}]\nexpect: {status: success}\n", false},
		{"bad duration", head + "steps: [{wait: soon}]\nexpect: {status: success}\n", false},
		{"bad uid", head + "cards: {c: {tech: desfire, uid: 04A2}}\nexpect: {status: success}\n", false},
		{"unknown technology", head + "cards: {c: {tech: magstripe, uid: 04A224B1}}\nexpect: {status: success}\n", false},
		{"success with error", head + "expect: {status: success, error: {type: uncategorized_error}}\n", false},
		{"error without type", head + "expect: {status: error, error: {}}\n", false},
		{"error status without error", head + "expect: {status: error}\n", false},
		{"404 with status", head + "expect: {http_status: 404, status: error, error: {type: acs_encoder_not_found}}\n", false},
		{"written without card", head + "expect: {status: success, written: guest}\n", false},
		{"nak zero", head + "steps: [{nak: 0}]\nexpect: {status: success}\n", false},
		{"hangup false", head + "steps: [{hangup: false}]\nexpect: {status: success}\n", false},
		{"unknown command count", head + "expect: {status: success}\ncommands: {write: 1}\n", false},
		{"encoder id not unknown", head + "encodes: [{acs_encoder_id: front-desk-9, expect: {status: success}}]\n", false},
		{"bad name", strings.Replace(head, "name: x", "name: Bad_Name", 1) + "expect: {status: success}\n", false},

		// Several encoders, and what runs on which.
		{"two encoders", two + "cards: {a: {tech: desfire, uid: 04A224B1}}\nsteps:\n  - {place: a, on: nfc-desk-1}\n  - await: {written: a}\n" +
			"encodes:\n  - expect: {status: success}\n  - {on: nfc-desk-1, concurrent: true, expect: {status: success, card: a, written: guest}}\n", true},
		{"encoder and encoders", head + "encoders: [{model: pms, id: front-desk-1}]\nexpect: {status: success}\n", false},
		{"no encoder", "name: x\ncredential: {system: visionline-hotel}\nexpect: {status: success}\n", false},
		{"top commands with encoders", two + "expect: {status: success}\ncommands: {encode: 1}\n", false},
		{"on alone", head + "steps: [{on: front-desk-1}]\nexpect: {status: success}\n", false},
		{"two ops and on", head + "steps: [{nak: 1, garble: 1, on: front-desk-1}]\nexpect: {status: success}\n", false},
		{"concurrent not a boolean", head + "encodes: [{expect: {status: success}}, {concurrent: 1, expect: {status: success}}]\n", false},
		{"await two things", head + "cards: {a: {tech: desfire, uid: 04A224B1}}\nsteps: [{await: {answer: encode, written: a}}]\nexpect: {status: success}\n", false},
		{"await answer of an unknown command", head + "steps: [{await: {answer: write}}]\nexpect: {status: success}\n", false},
		{"unplug", head + "steps: [{await: encode}, {unplug: true}]\nexpect: {status: error, error: {type: uncategorized_error}}\n", true},
		{"unplug false", head + "steps: [{unplug: false}]\nexpect: {status: success}\n", false},

		// The credential.
		{"credential in full", strings.Replace(head, "credential: {system: visionline-hotel}",
			"credential: {system: visionline-hotel, access_method: code, code: \"1234\", starts_at: 2099-06-01T14:00:00Z, ends_at: 2099-06-04T11:00:00+02:00}", 1) +
			"expect: {http_status: 400, error: {type: invalid_input}}\n", true},
		{"unknown access method", strings.Replace(head, "system: visionline-hotel}", "system: visionline-hotel, access_method: pin}", 1) + "expect: {status: success}\n", false},
		{"time without zone", strings.Replace(head, "system: visionline-hotel}", "system: visionline-hotel, ends_at: 2099-06-04T11:00:00}", 1) + "expect: {status: success}\n", false},
		{"starts_at and starts_in", strings.Replace(head, "system: visionline-hotel}", "system: visionline-hotel, starts_at: 2099-06-04T11:00:00Z, starts_in: 1h}", 1) + "expect: {status: success}\n", false},
		{"refused credential", refused + "commands: {encode: 0}\n", true},
		{"refused credential with an encode", refused + "expect: {status: success}\n", false},
		{"refused credential with 200", strings.Replace(refused, "http_status: 400", "http_status: 200", 1), false},

		// Any terminal status.
		{"status any", head + "cards: {a: {tech: desfire, uid: 04A224B1}}\nexpect: {status: any, card: a}\n", true},
		{"status any with an error", head + "expect: {status: any, error: {type: uncategorized_error}}\n", false},
		{"status any with written", head + "cards: {a: {tech: desfire, uid: 04A224B1}}\nexpect: {status: any, card: a, written: guest}\n", false},

		// What was written.
		{"written in full", head + "cards: {a: {tech: desfire, uid: 04A224B1}}\n" +
			"expect: {status: success, card: a, written: {holds: guest, function: guest, valid_from: credential, valid_until: 2099-06-04T11:00:00Z, label: Room 101}}\n", true},
		{"written without holds", head + "cards: {a: {tech: desfire, uid: 04A224B1}}\nexpect: {status: success, card: a, written: {label: x}}\n", false},
		{"written bad bound", head + "cards: {a: {tech: desfire, uid: 04A224B1}}\nexpect: {status: success, card: a, written: {holds: guest, valid_from: tomorrow}}\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schemaErr := sch.Validate(instance(t, []byte(c.doc)))
			_, loadErr := scenario.Load(c.name+".yaml", []byte(c.doc))
			if (schemaErr == nil) != c.ok {
				t.Errorf("schema: got %v, want ok=%v", schemaErr, c.ok)
			}
			if (loadErr == nil) != c.ok {
				t.Errorf("loader: got %v, want ok=%v", loadErr, c.ok)
			}
		})
	}
}

// TestDocumentedExample keeps the full example in docs/scenarios.md
// loadable and valid against the schema.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("docs/scenarios.md has no yaml example")
	}
	if _, err := scenario.Load("docs/scenarios.md", []byte(example)); err != nil {
		t.Errorf("the documented example does not load:\n%v", err)
	}
	if err := compileSchema(t).Validate(instance(t, []byte(example))); err != nil {
		t.Errorf("the documented example does not match the schema: %v", err)
	}
}

// Every registered device model has one bundled scenario of each family
// (scenario.Families), so a situation checked on one model is checked on
// all; and the format's JSON Schema lists the same families.
func TestEveryModelHasEachFamily(t *testing.T) {
	all, err := scenarios.All()
	if err != nil {
		t.Fatal(err)
	}
	of := map[[2]string][]string{} // model, family → scenarios
	for _, s := range all {
		if s.Family != "" {
			k := [2]string{s.Encoder.Model, s.Family}
			of[k] = append(of[k], s.Name)
		}
	}
	for _, m := range model.Names() {
		if m == scenario.ReplayModel {
			continue // a replay plays a recorded trace, not a situation of its own
		}
		desc, _ := model.Lookup(m)
		for f, why := range desc.Lacks {
			if !slices.Contains(scenario.Families, f) {
				t.Errorf("model %s lacks family %q, which is not a family", m, f)
			}
			if why == "" {
				t.Errorf("model %s lacks family %s without saying why", m, f)
			}
		}
		for _, f := range scenario.Families {
			got := of[[2]string{m, f}]
			if _, lacks := desc.Lacks[f]; lacks {
				if len(got) > 0 {
					t.Errorf("model %s says it lacks family %s, yet has %s", m, f, strings.Join(got, ", "))
				}
				continue
			}
			switch len(got) {
			case 0:
				t.Errorf("model %s has no bundled scenario of family %s", m, f)
			case 1:
			default:
				t.Errorf("model %s has %d scenarios of family %s (%s), want one", m, len(got), f, strings.Join(got, ", "))
			}
		}
	}

	data, err := scenarios.FS.ReadFile(scenarios.SchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	type enum struct {
		Enum []string `json:"enum"`
	}
	var schema struct {
		Properties struct {
			Family enum `json:"family"`
		} `json:"properties"`
		Defs struct {
			Encoder struct {
				Properties struct {
					Model enum `json:"model"`
				} `json:"properties"`
			} `json:"encoder"`
			ListedEncoder struct {
				Properties struct {
					Model enum `json:"model"`
				} `json:"properties"`
			} `json:"listedEncoder"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(schema.Properties.Family.Enum, scenario.Families) {
		t.Errorf("the schema's families are %v; the loader's %v", schema.Properties.Family.Enum, scenario.Families)
	}
	// The bundled models (this package registers them) and the format's
	// own replay model, as an editor offers them.
	bundled := append(model.Names(), scenario.ReplayModel)
	slices.Sort(bundled)
	for what, got := range map[string][]string{
		"encoder":       schema.Defs.Encoder.Properties.Model.Enum,
		"listedEncoder": schema.Defs.ListedEncoder.Properties.Model.Enum,
	} {
		if !slices.Equal(got, bundled) {
			t.Errorf("the schema's %s models are %v; the bundled %v", what, got, bundled)
		}
	}
}
