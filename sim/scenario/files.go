package scenario

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// IsFileName reports whether name is a scenario file's name: it ends in
// .yaml or .yml.
func IsFileName(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// LoadPaths loads the scenarios paths name, in order: a file as it is
// (whatever its name), a directory as every .yaml and .yml file directly
// in it, in name order (its subdirectories are not read). It reports
// every problem at once, joined: each file that fails to load (a
// *LoadError), each path that cannot be read, each directory with no
// scenario file, and each scenario name used by two files, since a run
// tells scenarios apart by name.
func LoadPaths(paths ...string) ([]*Scenario, error) {
	var out []*Scenario
	var errs []error
	byName := map[string]string{}
	for _, p := range paths {
		files, err := scenarioFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			s, err := LoadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if prev, dup := byName[s.Name]; dup {
				if prev == s.File {
					continue // the same file named twice
				}
				errs = append(errs, fmt.Errorf("%s: scenario name %q is already the name of %s: give each scenario its own name", s.File, s.Name, prev))
				continue
			}
			byName[s.Name] = s.File
			out = append(out, s)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// scenarioFiles is the file p, or the scenario files in directory p.
func scenarioFiles(p string) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if !fi.IsDir() {
		return []string{filepath.Clean(p)}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && IsFileName(e.Name()) {
			files = append(files, filepath.Join(p, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("scenario: directory %s holds no scenario file (*.yaml, *.yml)", p)
	}
	slices.Sort(files)
	return files, nil
}
