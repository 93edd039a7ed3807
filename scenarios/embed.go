package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/encoderlab/encoderlab/sim/scenario"
)

// FS holds the bundled scenario files and SchemaFile at its root.
//
//go:embed *.yaml scenario.schema.json
var FS embed.FS

// SchemaFile is the name of the scenario format's JSON Schema in FS.
const SchemaFile = "scenario.schema.json"

const ext = ".yaml"

// Names lists the bundled scenarios, sorted, without ".yaml".
func Names() []string {
	files, err := fs.Glob(FS, "*"+ext)
	if err != nil {
		// The pattern is constant and valid; Glob cannot fail on it.
		panic(err)
	}
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = strings.TrimSuffix(f, ext)
	}
	slices.Sort(out)
	return out
}

// Load loads the bundled scenario called name (with or without ".yaml").
// Its File is the file name, "empty-reader.yaml".
func Load(name string) (*scenario.Scenario, error) {
	file := strings.TrimSuffix(name, ext) + ext
	if path.Base(file) != file {
		return nil, fmt.Errorf("scenarios: %q: %w", name, fs.ErrNotExist)
	}
	data, err := FS.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("scenarios: %w", err)
	}
	return scenario.Load(file, data)
}

// All loads every bundled scenario, in Names order. It reports every file
// that fails to load, joined.
func All() ([]*scenario.Scenario, error) {
	var out []*scenario.Scenario
	var errs []error
	for _, n := range Names() {
		s, err := Load(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
