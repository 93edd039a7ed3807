package scenario_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// PN532 frame text: the schema editors see and the loader accept and
// refuse the same frames.
func TestPN532FramesSchemaAgreesWithLoader(t *testing.T) {
	data, err := scenarios.FS.ReadFile(scenarios.SchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(scenarios.SchemaFile, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(scenarios.SchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	const head = "name: r\nencoder: {model: replay, protocol: pn532, id: nfc-desk-1}\ncredential: {system: visionline-hotel}\nexpect: {status: success}\nsteps:\n"
	for _, tc := range []struct {
		steps string
		ok    bool
	}{
		{`  - expect: {frame: "D4 4A 01 00"}` + "\n" + `  - send: {frame: ACK}` + "\n", true},
		{`  - expect: {frame: "D4 40 01 a0 04 $block4:16"}` + "\n" + `  - send: {frame: "D5 41 00 $block4"}` + "\n", true},
		{`  - expect: {frame: "D4 40 01 60 04 *:6 *"}` + "\n" + `  - send: {frame: NACK}` + "\n", true},
		{`  - expect: "5555000000"` + "\n", true},
		{`  - expect: {frame: "D4 4A 1 00"}` + "\n", false},
		{`  - expect: {frame: "D4  4A"}` + "\n", false},
		{`  - expect: {frame: "CN 01 $cardid"}` + "\n", false},
		{`  - expect: {frame: "D4 ACK"}` + "\n", false},
		{`  - expect: {frame: "D4 $X"}` + "\n", false},
		{`  - expect: {frame: "D4 *:0"}` + "\n", false},
	} {
		y := head + tc.steps
		var v any
		if err := yaml.Unmarshal([]byte(y), &v); err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		schemaErr := sch.Validate(inst)
		_, loadErr := scenario.Load("r.yaml", []byte(y))
		if (schemaErr == nil) != tc.ok || (loadErr == nil) != tc.ok {
			t.Errorf("%s: schema says %v, loader says %v; want ok=%v", tc.steps, schemaErr, loadErr, tc.ok)
		}
	}
}
